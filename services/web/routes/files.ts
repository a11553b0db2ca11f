/**
 * G-code files (CONTRACT.md "HTTP API"): multipart upload (field `file`) spooled by multer into the
 * files dir itself and checked line by line as it is written (upload-storage.ts), then fsynced and
 * renamed by the shared FileStore. Hostile names and
 * malformed G-code are 400s and leave nothing behind; oversize uploads are 413. Listing and upload
 * answers carry the slicer metadata found in the same pass; /files/:name/thumbnail serves its image.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Request, Response } from 'express';
import type Multer from 'multer';
import { AppError, badRequest, notFound } from '../../shared/errors.ts';
import { FileStore, sanitizeName } from '../../shared/files.ts';
import type { WebDeps } from '../deps.ts';
import type { Route } from '../route-types.ts';
import { checkedSpool, type CheckedUpload } from '../upload-storage.ts';

export const MAX_UPLOAD_BYTES = 512 * 1024 * 1024;

const tooLarge = () => new AppError('file_too_large', 413, `Files larger than ${MAX_UPLOAD_BYTES / 1024 / 1024} MB are not accepted`);
const isDiskFull = (e: unknown) => ['ENOSPC', 'EDQUOT'].includes((e as NodeJS.ErrnoException | undefined)?.code ?? '');
// 507 Insufficient Storage (RFC 4918): the user can act on it (delete old files), unlike a generic 500.
const diskFull = () => new AppError('disk_full', 507, 'Not enough free space on the PrintBox for this file. Delete old files and try again.');

const stores = new Map<string, FileStore>();
export async function fileStoreOf(deps: WebDeps): Promise<FileStore> {
  const dir = path.join(deps.config.dataDir, 'files');
  let s = stores.get(dir);
  const first = !s;
  // A file described in the background (copied in by hand) changes the listing: open lists reload.
  if (!s) { s = new FileStore(dir, { onDescribed: () => deps.fileChanges?.emit('changed') }); stores.set(dir, s); }
  await s.init();
  if (first) {
    const swept = await s.sweepSpool();
    if (swept.length) deps.log.info('removed spool files of interrupted uploads', { files: swept });
  }
  return s;
}

// Loaded at first use, not at start-up: the idle web must stay small (image test: all services ≤ 150 MiB RSS).
let multerLib: typeof Multer | undefined;

async function receive(store: FileStore, req: Request, res: Response): Promise<Express.Multer.File & CheckedUpload> {
  const multer = (multerLib ??= (await import('multer')).default);
  const upload = multer({
    storage: checkedSpool(store),
    limits: { fileSize: MAX_UPLOAD_BYTES, files: 1, fields: 5, parts: 6 },
    // Keep the client's raw name: a hostile "../x" must be refused, not silently trimmed to "x".
    preservePath: true,
  }).single('file');
  return new Promise((resolve, reject) => {
    upload(req, res, (err: unknown) => {
      if (err instanceof AppError) return reject(err); // bad_gcode from the check while it was written
      if (isDiskFull(err)) return reject(diskFull());
      if (err instanceof multer.MulterError) {
        if (err.code === 'LIMIT_FILE_SIZE') return reject(tooLarge());
        return reject(badRequest('bad_upload', `Upload rejected: ${err.message} (send one file in the field "file")`));
      }
      if (err) return reject(badRequest('bad_upload', 'The upload could not be read'));
      if (!req.file) return reject(badRequest('bad_upload', 'No file in the field "file"'));
      resolve(req.file as Express.Multer.File & CheckedUpload);
    });
  });
}

/**
 * A file an unfinished print reads must stay as it is: the printer reopens it at a line index on every
 * resume, so deleting it strands the job and replacing it resumes in the middle of another print.
 * With the printer service down there is no running print to protect (its adopted jobs are re-checked
 * on resume), so uploads and deletes keep working.
 */
async function refuseIfPrinting(deps: WebDeps, name: string): Promise<void> {
  let printers;
  try { printers = await deps.printer.call('printers.list', {}); } catch (e) {
    if (e instanceof AppError && e.code === 'service_unavailable') return;
    throw e;
  }
  const user = printers.find((p) => p.job?.file === name && (p.job.state === 'printing' || p.job.state === 'paused'));
  if (user) throw new AppError('file_in_use', 409, `“${name}” is being printed on ${user.name || user.id}. Cancel that print first.`);
}

export const fileRoutes: Route<WebDeps>[] = [
  { method: 'get', path: '/files', access: 'files.read', handler: async ({ deps }) => (await fileStoreOf(deps)).list() },
  {
    method: 'post', path: '/files', access: 'files.write', body: 'multipart', status: 201,
    handler: async ({ req, res, deps }) => {
      const store = await fileStoreOf(deps);
      // Refuse at once what cannot fit, rather than after minutes of uploading 300 MB over Wi-Fi.
      const length = Number(req.headers['content-length']);
      // 64 KiB for the multipart headers around the file.
      if (length > MAX_UPLOAD_BYTES + 65_536) throw tooLarge();
      if (length > 0) {
        const fsStat = await fs.statfs(store.dir);
        if (length > fsStat.bavail * fsStat.bsize) throw diskFull();
      }
      const file = await receive(store, req, res);
      // multer decodes the multipart filename as latin1; browsers send UTF-8.
      const original = Buffer.from(file.originalname, 'latin1').toString('utf8');
      const name = typeof req.body?.name === 'string' && req.body.name ? req.body.name : original;
      try { await refuseIfPrinting(deps, sanitizeName(name)); } catch (e) { await fs.rm(file.path, { force: true }); throw e; }
      const info = await store.import(file.path, name, file).catch((e: unknown) => { throw isDiskFull(e) ? diskFull() : e; });
      deps.fileChanges?.emit('changed');
      return { name: info.name, size: info.size, lines: info.lines, metadata: info.metadata };
    },
  },
  {
    // The image the slicer embedded (largest PNG, else JPG); 404 not_found when it embedded none.
    method: 'get', path: '/files/:name/thumbnail', access: 'files.read', raw: true,
    handler: async ({ req, res, deps }) => {
      const thumb = await (await fileStoreOf(deps)).thumbnail(sanitizeName(req.params.name));
      // The image is a hidden file beside the G-code (dotfiles), revalidated on each use (an upload under
      // the same name replaces it); the type is set first, as ".thumb" says nothing.
      const options = { dotfiles: 'allow' as const, cacheControl: false, headers: { 'Cache-Control': 'private, no-cache' } };
      await new Promise<void>((resolve, reject) => {
        res.type(thumb.format === 'png' ? 'image/png' : 'image/jpeg').sendFile(thumb.path, options, (e) => (e ? reject(notFound('Thumbnail')) : resolve()));
      });
    },
  },
  {
    method: 'delete', path: '/files/:name', access: 'files.write',
    handler: async ({ req, deps }) => {
      const name = sanitizeName(req.params.name);
      await refuseIfPrinting(deps, name);
      await (await fileStoreOf(deps)).remove(name);
      deps.fileChanges?.emit('changed');
      return undefined;
    },
  },
];
