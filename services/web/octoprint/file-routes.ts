/**
 * OctoPrint's file operations on the "local" origin (docs.octoprint.org "File operations"): list,
 * upload (with select/print), one file, select/unselect, delete. Status codes and messages follow
 * octoprint/server/api/files.py (1.11): a select or print the printer is not ready for is not an error
 * on upload (effectiveSelect/effectivePrint say what happened), but is a 409 on the file command.
 */
import fs from 'node:fs/promises';
import { AppError, badRequest } from '../../shared/errors.ts';
import { sanitizeName } from '../../shared/files.ts';
import type { FilePrintStats, PrinterInfo } from '../../shared/ipc.ts';
import type { WebDeps } from '../deps.ts';
import { fileStoreOf, MAX_UPLOAD_BYTES } from '../routes/files.ts';
import { who } from '../routes/printers.ts';
import type { Route } from '../route-types.ts';
import { checkFolder, fileEntry, isTrue, receiveUpload, resourceUrl, space } from './files.ts';
import { fileInfo, selectedFiles } from './job.ts';
import { activeJob, isReady, on, printerOf, type Ctx } from './state.ts';

const P = '/:printer/api/files';
const fileNotFound = () => new AppError('not_found', 404, 'File not found');

async function listing(ctx: Ctx, p: PrinterInfo) {
  const store = await fileStoreOf(ctx.deps);
  const stats = await printStats(ctx.deps, p.id);
  return { files: (await store.list()).map((f) => fileEntry(ctx.req, p.id, f, stats[f.name])), ...(await space(store)) };
}

/**
 * The print history of this printer per file (each printer is its own OctoPrint instance). Files stay
 * listable while the printer service is down, as PrintBox's own listing does: just without history.
 */
async function printStats(deps: WebDeps, printerId: string, file?: string): Promise<Record<string, FilePrintStats>> {
  try { return await deps.printer.call('jobs.fileStats', { printerId, ...(file ? { file } : {}) }); } catch { return {}; }
}

/** A file a printing or paused job reads must stay as it is (see routes/files.ts refuseIfPrinting). */
async function refuseIfInUse(deps: WebDeps, name: string, message: string): Promise<void> {
  const printers = await deps.printer.call('printers.list', {});
  if (printers.some((x) => activeJob(x)?.file === name)) throw new AppError('file_in_use', 409, message);
}

/** Refuse early what cannot fit, rather than after minutes of uploading over Wi-Fi (64 KiB for the multipart around the file). */
async function checkLength(ctx: Ctx, dir: string): Promise<void> {
  const length = Number(ctx.req.headers['content-length']);
  if (length > MAX_UPLOAD_BYTES + 65_536) throw new AppError('file_too_large', 413, `Files larger than ${MAX_UPLOAD_BYTES / 1024 / 1024} MB are not accepted`);
  if (length > 0) {
    const st = await fs.statfs(dir);
    if (length > st.bavail * st.bsize) throw new AppError('disk_full', 507, 'Not enough free space on the PrintBox for this file');
  }
}

/** select/print after an upload: only with jobs.control and a ready printer; a start that fails leaves the file stored. */
async function selectAndPrint(ctx: Ctx, printerId: string, name: string, fields: Record<string, unknown>) {
  const may = ctx.principal?.permissions.has('jobs.control') ?? false;
  let print = may && isTrue(fields.print);
  let select = print || (may && isTrue(fields.select));
  if (select && !isReady(await printerOf(ctx))) select = print = false;
  if (select) selectedFiles(ctx.deps).set(printerId, name);
  if (print) {
    try { await ctx.deps.printer.call('jobs.start', { printerId, file: name, ...who(ctx.principal) }, 60_000); } catch (e) {
      ctx.deps.log.warn('octoprint upload: print did not start', { printer: printerId, file: name, error: String((e as Error).message) });
      print = false;
    }
  }
  return { effectiveSelect: select, effectivePrint: print };
}

async function upload(ctx: Ctx, p: PrinterInfo) {
  const store = await fileStoreOf(ctx.deps);
  await checkLength(ctx, store.dir);
  const up = await receiveUpload(store, ctx.req, ctx.res);
  try {
    checkFolder(up.fields.path);
    await refuseIfInUse(ctx.deps, up.name, 'Trying to overwrite file that is currently being printed');
  } catch (e) {
    await fs.rm(up.spool, { force: true });
    throw e;
  }
  const info = await store.import(up.spool, up.name, up.checked);
  ctx.deps.fileChanges?.emit('changed');
  const effective = await selectAndPrint(ctx, p.id, info.name, up.fields);
  const resource = resourceUrl(ctx.req, p.id, info.name);
  ctx.res.setHeader('Location', resource);
  return { files: { local: { name: info.name, display: info.name, path: info.name, origin: 'local', refs: { resource } } }, done: true, ...effective };
}

/** A file name from the URL; a hostile one ("../x", "a/b") is a 400 naming the rule, never a lookup. */
const nameParam = (ctx: Ctx) => sanitizeName(ctx.req.params.name);

async function oneFile(ctx: Ctx, p: PrinterInfo) {
  const name = nameParam(ctx);
  const f = (await (await fileStoreOf(ctx.deps)).list()).find((x) => x.name === name);
  if (!f) throw fileNotFound();
  return fileEntry(ctx.req, p.id, f, (await printStats(ctx.deps, p.id, f.name))[f.name]);
}

async function selectFile(ctx: Ctx, p: PrinterInfo, name: string, print: unknown): Promise<void> {
  if (!(await fileInfo(ctx.deps, name))) throw fileNotFound();
  if (!isReady(p)) throw new AppError('conflict', 409, 'Printer is already printing, cannot select a new file');
  selectedFiles(ctx.deps).set(p.id, name);
  if (isTrue(print)) await ctx.deps.printer.call('jobs.start', { printerId: p.id, file: name, ...who(ctx.principal) }, 60_000);
}

/** POST /api/files/local/<name> {"command": "select", "print"?} | {"command": "unselect"} */
async function fileCommand(ctx: Ctx, p: PrinterInfo): Promise<void> {
  const name = nameParam(ctx);
  const body = (ctx.req.body ?? {}) as { command?: unknown; print?: unknown };
  if (body.command === 'select') return selectFile(ctx, p, name, body.print);
  if (body.command === 'unselect') {
    if (!isReady(p)) throw new AppError('conflict', 409, 'Printer is already printing, cannot unselect current file');
    if (!selectedFiles(ctx.deps).has(p.id)) throw new AppError('conflict', 409, 'Cannot unselect current file when there is no file selected');
    selectedFiles(ctx.deps).delete(p.id);
    return;
  }
  if (['slice', 'analyse', 'copy', 'move', 'uploadSd'].includes(String(body.command))) throw badRequest('unsupported_command', `PrintBox does not support the file command "${String(body.command)}"`);
  throw badRequest('bad_command', 'command is invalid');
}

async function remove(ctx: Ctx): Promise<void> {
  const name = nameParam(ctx);
  await refuseIfInUse(ctx.deps, name, 'Trying to delete a file that is currently in use');
  try { await (await fileStoreOf(ctx.deps)).remove(name); } catch (e) {
    throw e instanceof AppError && e.status === 404 ? fileNotFound() : e;
  }
  // Like OctoPrint, a deleted file is no longer selected on any printer.
  const selected = selectedFiles(ctx.deps);
  for (const [id, file] of selected) if (file === name) selected.delete(id);
  ctx.deps.fileChanges?.emit('changed');
}

export const fileRoutes: Route<WebDeps>[] = [
  { method: 'get', path: P, access: 'files.read', handler: on(listing) },
  { method: 'get', path: `${P}/local`, access: 'files.read', handler: on(listing) },
  { method: 'post', path: `${P}/local`, access: 'files.write', body: 'multipart', status: 201, handler: on(upload) },
  { method: 'get', path: `${P}/local/:name`, access: 'files.read', handler: on(oneFile) },
  { method: 'post', path: `${P}/local/:name`, access: 'jobs.control', handler: on(fileCommand) },
  { method: 'delete', path: `${P}/local/:name`, access: 'files.write', handler: on(remove) },
];
