/**
 * Printers and jobs (CONTRACT.md "HTTP API"): thin handlers over printer.sock — the web never opens
 * a serial port; the IPC client turns "printer service down" into 503.
 */
import { badRequest } from '../../shared/errors.ts';
import { sanitizeName } from '../../shared/files.ts';
import type { WebDeps } from '../deps.ts';
import type { Principal } from '../permissions.ts';
import type { Route } from '../route-types.ts';
import { publicTimelapse } from '../timelapse/routes.ts';

const body = (b: unknown): Record<string, unknown> => (b && typeof b === 'object' ? (b as Record<string, unknown>) : {});
const id = (p: { id?: string | string[] }): string => {
  const v = typeof p.id === 'string' ? p.id : '';
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(v)) throw badRequest('bad_printer_id', 'Invalid printer id');
  return v;
};

const jobId = (p: { id?: string | string[] }): number => {
  const v = typeof p.id === 'string' && /^[1-9]\d{0,14}$/.test(p.id) ? Number(p.id) : NaN;
  if (!Number.isSafeInteger(v)) throw badRequest('bad_job_id', 'Invalid job id');
  return v;
};

/** `?before=<ISO date>`: only jobs that ended before it; absent: the whole history. */
function before(raw: unknown): { before?: string } {
  if (raw === undefined) return {};
  const t = typeof raw === 'string' && /^\d{4}-\d{2}-\d{2}/.test(raw) ? Date.parse(raw) : NaN;
  if (Number.isNaN(t)) throw badRequest('bad_date', 'before must be an ISO 8601 date, e.g. 2026-01-31 or 2026-01-31T12:00:00Z');
  return { before: new Date(t).toISOString() };
}

/** Who starts a job, for the print history: the session's user, `<owner>/key:<prefix>` for an API key, "local". */
export const who = (principal: Principal | null): { user?: string } => (principal ? { user: principal.user } : {});

const jobAction = (action: 'pause' | 'resume' | 'cancel'): Route<WebDeps> => ({
  method: 'post', path: `/printers/:id/job/${action}`, access: 'jobs.control',
  handler: ({ req, deps }) => deps.printer.call(`jobs.${action}`, { printerId: id(req.params) }, 60_000),
});

export const printerRoutes: Route<WebDeps>[] = [
  { method: 'get', path: '/printers', access: 'printers.read', handler: ({ deps }) => deps.printer.call('printers.list', {}) },
  { method: 'get', path: '/printers/:id', access: 'printers.read', handler: ({ req, deps }) => deps.printer.call('printers.get', { id: id(req.params) }) },
  {
    method: 'post', path: '/printers/:id/job', access: 'jobs.control', status: 202,
    handler: ({ req, deps, principal }) => deps.printer.call('jobs.start', { printerId: id(req.params), file: sanitizeName(body(req.body).file), ...who(principal) }, 60_000),
  },
  { method: 'get', path: '/printers/:id/job', access: 'jobs.read', handler: ({ req, deps }) => deps.printer.call('jobs.get', { printerId: id(req.params) }) },
  jobAction('pause'), jobAction('resume'), jobAction('cancel'),
  {
    method: 'post', path: '/printers/:id/command', access: 'printers.control', status: 202,
    handler: ({ req, deps }) => {
      const gcode = body(req.body).gcode;
      if (typeof gcode !== 'string' || !gcode.trim()) throw badRequest('bad_gcode', 'gcode is required');
      return deps.printer.call('printers.command', { id: id(req.params), gcode });
    },
  },
  // Answering the firmware's prompt (M876 / M108) lets a paused print go on: whoever may pause and resume may answer.
  {
    method: 'post', path: '/printers/:id/prompt', access: 'jobs.control',
    handler: ({ req, deps, principal }) => {
      const b = body(req.body);
      if (typeof b.prompt !== 'number' || !Number.isSafeInteger(b.prompt) || b.prompt < 1) throw badRequest('bad_prompt_id', 'prompt must be the id of the open prompt (GET /api/printers/:id → prompt.id)');
      if (typeof b.choice !== 'number' || !Number.isSafeInteger(b.choice)) throw badRequest('bad_choice', 'choice must be a whole number: the button, counted from 0');
      return deps.printer.call('printers.prompt.answer', { id: id(req.params), promptId: b.prompt, choice: b.choice, ...who(principal) });
    },
  },
  { method: 'post', path: '/printers/:id/emergency-stop', access: 'printers.control', handler: ({ req, deps }) => deps.printer.call('printers.emergencyStop', { id: id(req.params) }) },
  // A reset re-probes the board (bootloader + baud autodetect): allow far more than the default timeout.
  { method: 'post', path: '/printers/:id/reconnect', access: 'printers.control', handler: ({ req, deps }) => deps.printer.call('printers.reconnect', { id: id(req.params) }, 60_000) },
  {
    method: 'get', path: '/jobs', access: 'jobs.read',
    handler: async ({ req, deps }) => {
      const jobs = await deps.printer.call('jobs.history', { limit: Math.min(500, Number(req.query.limit) || 50) });
      // Each job with its timelapse, when one was recorded.
      const videos = new Map((deps.timelapse?.store.list() ?? []).map((t) => [t.job, publicTimelapse(t)]));
      return jobs.map((j) => (videos.has(j.id) ? { ...j, timelapse: videos.get(j.id) } : j));
    },
  },
  // Pruning the history is part of running the printers, not of administering the box: whoever may
  // start and cancel prints may clear their record.
  {
    method: 'delete', path: '/jobs', access: 'jobs.control',
    handler: ({ req, deps }) => deps.printer.call('jobs.prune', before(req.query.before)),
  },
  {
    method: 'delete', path: '/jobs/:id', access: 'jobs.control',
    handler: async ({ req, deps }) => { await deps.printer.call('jobs.delete', { id: jobId(req.params) }); },
  },
];
