/**
 * OctoPrint's job model on a PrintBox printer: a file is selected, then started (docs.octoprint.org
 * "Job operations"). PrintBox itself starts a job with its file in one call, so the selection lives
 * here, in the web's memory, one per printer: it is lost when the web restarts, as OctoPrint's is when
 * OctoPrint restarts. Commands and their 409s follow octoprint/server/api/job.py controlJob (1.11).
 */
import { AppError, badRequest } from '../../shared/errors.ts';
import type { FileInfo } from '../../shared/files.ts';
import type { JobInfo, PrinterInfo } from '../../shared/ipc.ts';
import type { WebDeps } from '../deps.ts';
import { fileStoreOf } from '../routes/files.ts';
import { who } from '../routes/printers.ts';
import { activeJob, isOperational, notOperational, stateText, type Ctx } from './state.ts';

const selections = new WeakMap<WebDeps, Map<string, string>>();

/** Selected file names by printer id, one map per running web (tests start several). */
export function selectedFiles(deps: WebDeps): Map<string, string> {
  let m = selections.get(deps);
  if (!m) { m = new Map(); selections.set(deps, m); }
  return m;
}

export async function fileInfo(deps: WebDeps, name: string): Promise<FileInfo | undefined> {
  return (await (await fileStoreOf(deps)).list()).find((f) => f.name === name);
}

const seconds = (from: string, to?: string) => Math.max(0, Math.round(((to ? Date.parse(to) : Date.now()) - Date.parse(from)) / 1000));

function progressOf(job: JobInfo | undefined) {
  if (!job) return { completion: null, filepos: null, printTime: null, printTimeLeft: null, printTimeLeftOrigin: null };
  const running = job.state === 'printing' || job.state === 'paused';
  return {
    completion: Math.round(job.progress * 10_000) / 100,
    filepos: job.bytes_sent,
    printTime: seconds(job.started_at, job.ended_at),
    printTimeLeft: running ? job.eta_s : job.state === 'done' ? 0 : null,
    printTimeLeftOrigin: running && job.eta_s !== null ? 'estimate' : null,
  };
}

function fileOf(name: string | undefined, info: FileInfo | undefined) {
  if (!name) return { name: null, display: null, path: null, origin: null, size: null, date: null };
  return { name, display: name, path: name, origin: 'local', size: info?.size ?? null, date: info ? Math.floor(Date.parse(info.modified) / 1000) : null };
}

/**
 * OctoPrint's lastPrintTime: how long the file's last successful print on this printer took
 * (filemanager/storage.py keeps it from successful prints only). The history is a nicety here: with the
 * printer service unreachable the field is null rather than the whole answer failing.
 */
async function lastPrintTime(deps: WebDeps, printerId: string, name: string): Promise<number | null> {
  try { return (await deps.printer.call('jobs.fileStats', { printerId, file: name }))[name]?.last_success_duration_s ?? null; } catch { return null; }
}

/** GET /api/job: the running job, else the selected file (with its last run's progress when that was it). */
export const jobState = (ctx: Ctx, p: PrinterInfo) => jobStateOf(ctx.deps, p);

/** GET /api/job's answer, also the job and progress of the push API's `current` message (push.ts). */
export async function jobStateOf(deps: WebDeps, p: PrinterInfo) {
  const selected = selectedFiles(deps).get(p.id);
  const job = activeJob(p) ?? (p.job && p.job.file === selected ? p.job : undefined);
  const name = job?.file ?? selected;
  const info = name ? await fileInfo(deps, name) : undefined;
  const meta = info?.metadata;
  return {
    job: {
      file: fileOf(name, info),
      estimatedPrintTime: meta?.estimated_time_s ?? null,
      lastPrintTime: name ? await lastPrintTime(deps, p.id, name) : null,
      filament: meta?.filament_used_mm ? { tool0: { length: meta.filament_used_mm, volume: null } } : null,
      user: job?.user ?? null,
    },
    progress: progressOf(job),
    state: stateText(p),
    ...(p.state === 'error' && p.error ? { error: p.error } : {}),
  };
}

const conflict = (message: string) => new AppError('conflict', 409, message);

async function start(ctx: Ctx, p: PrinterInfo): Promise<void> {
  if (activeJob(p)) throw conflict("Printer already has an active print job, did you mean 'restart'?");
  const file = selectedFiles(ctx.deps).get(p.id);
  // OctoPrint silently does nothing here; a client is better served by being told why nothing prints.
  if (!file) throw conflict('No file is selected: select one first (POST /api/files/local/<name> {"command": "select"})');
  await ctx.deps.printer.call('jobs.start', { printerId: p.id, file, ...who(ctx.principal) }, 60_000);
}

async function pause(ctx: Ctx, p: PrinterInfo, action: unknown): Promise<void> {
  const job = activeJob(p);
  if (!job) throw conflict("Printer is neither printing nor paused, 'pause' command cannot be performed");
  const a = action ?? 'toggle';
  if (a !== 'toggle' && a !== 'pause' && a !== 'resume') throw badRequest('bad_action', 'Unknown action');
  const want = a === 'toggle' ? (job.state === 'paused' ? 'resume' : 'pause') : a;
  // Asking for the state the job is already in changes nothing, as in OctoPrint.
  if ((want === 'pause') === (job.state === 'paused')) return;
  await ctx.deps.printer.call(want === 'pause' ? 'jobs.pause' : 'jobs.resume', { printerId: p.id }, 60_000);
}

/** POST /api/job {"command": "start"|"restart"|"pause"|"cancel", "action"?} */
export async function jobCommand(ctx: Ctx, p: PrinterInfo): Promise<void> {
  if (!isOperational(p)) throw notOperational();
  const body = (ctx.req.body ?? {}) as { command?: unknown; action?: unknown };
  const printerId = p.id;
  switch (body.command) {
    case 'start': return start(ctx, p);
    case 'pause': return pause(ctx, p, body.action);
    case 'cancel':
      if (!activeJob(p)) throw conflict("Printer is neither printing nor paused, 'cancel' command cannot be performed");
      await ctx.deps.printer.call('jobs.cancel', { printerId }, 60_000);
      return;
    case 'restart': {
      // OctoPrint: start the paused job's file again from its first line.
      const job = activeJob(p);
      if (job?.state !== 'paused') throw conflict('Printer does not have an active print job or is not paused');
      await ctx.deps.printer.call('jobs.cancel', { printerId }, 60_000);
      await ctx.deps.printer.call('jobs.start', { printerId, file: job.file, ...who(ctx.principal) }, 60_000);
      return;
    }
    default: throw badRequest('bad_command', 'command is invalid');
  }
}
