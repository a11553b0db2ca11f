/**
 * The file store as OctoPrint's "local" origin (docs.octoprint.org "File operations"): one flat folder,
 * the same names and checks as POST /api/files (services/shared/files.ts). Uploads are multipart the
 * way PrusaSlicer (src/slic3r/Utils/OctoPrint.cpp upload_inner_with_host: print, path, file) and
 * Cura-OctoPrintPlugin (OctoPrintOutputDevice.py: path, file, select, print) send them, spooled and
 * checked line by line while written (upload-storage.ts), as PrintBox's own upload is.
 */
import fs from 'node:fs/promises';
import type { Request, Response } from 'express';
import type Multer from 'multer';
import { AppError, badRequest } from '../../shared/errors.ts';
import { sanitizeName, type FileInfo, type FileStore } from '../../shared/files.ts';
import type { FilePrintStats } from '../../shared/ipc.ts';
import { GCODE_EXTENSIONS } from '../../shared/gcode-names.ts';
import type { WebDeps } from '../deps.ts';
import { MAX_UPLOAD_BYTES } from '../routes/files.ts';
import { checkedSpool, type CheckedUpload } from '../upload-storage.ts';

/** The OctoPrint base URL of a printer, absolute, from the Host the client used (already allow-listed). */
export const baseUrl = (req: Request, printerId: string) => `https://${req.headers.host ?? 'localhost'}/octoprint/${encodeURIComponent(printerId)}`;

export const resourceUrl = (req: Request, printerId: string, name: string) => `${baseUrl(req, printerId)}/api/files/local/${encodeURIComponent(name)}`;

/**
 * A file's print history as OctoPrint's File information object carries it (docs.octoprint.org "File
 * operations"): `prints` counts successes and failures (a cancelled print is a failure, as OctoPrint logs
 * it) with the last one's date (epoch seconds); `statistics` holds print times of successful prints only,
 * per printer profile — PrintBox has one, `_default`. Both are absent for a file never printed, as there.
 */
function history(s: FilePrintStats | undefined) {
  if (!s) return {};
  const profile = (v: number | null) => (v === null ? {} : { _default: v });
  return {
    prints: { success: s.success, failure: s.failure, last: { date: Date.parse(s.last.ended_at) / 1000, success: s.last.success, printTime: s.last.duration_s } },
    statistics: { averagePrintTime: profile(s.average_success_duration_s), lastPrintTime: profile(s.last_success_duration_s) },
  };
}

/** One entry of GET /api/files (type "machinecode", origin "local"); no download link: PrintBox serves no file downloads yet. */
export function fileEntry(req: Request, printerId: string, f: FileInfo, stats?: FilePrintStats) {
  const m = f.metadata;
  return {
    name: f.name, display: f.name, path: f.name, type: 'machinecode', typePath: ['machinecode', 'gcode'], origin: 'local',
    size: f.size, date: Math.floor(Date.parse(f.modified) / 1000),
    refs: { resource: resourceUrl(req, printerId, f.name) },
    gcodeAnalysis: {
      estimatedPrintTime: m.estimated_time_s,
      filament: m.filament_used_mm ? { tool0: { length: m.filament_used_mm, volume: null } } : {},
    },
    ...history(stats),
  };
}

export async function space(store: FileStore): Promise<{ free: number; total: number }> {
  const st = await fs.statfs(store.dir);
  return { free: st.bavail * st.bsize, total: st.blocks * st.bsize };
}

/**
 * PrintBox keeps every file in one folder: `path` (the folder the client wants the file in) must be
 * empty or "/". Anything else, "../" included, is refused rather than flattened, so a file never lands
 * somewhere the client did not ask for.
 */
export function checkFolder(path: unknown): void {
  if (path === undefined || path === '' || path === '/') return;
  throw badRequest('folders_unsupported', 'PrintBox keeps all files in one folder: leave the upload path (folder) empty');
}

/** multer gives the part's filename as latin1; slicers send UTF-8. */
const utf8Name = (file: Express.Multer.File) => Buffer.from(file.originalname, 'latin1').toString('utf8');

/** Refused before any byte is written: a type the store does not keep (415, as OctoPrint) or a name it would refuse (400). */
function checkName(raw: string): string {
  if (!GCODE_EXTENSIONS.test(raw.trim())) throw new AppError('unsupported_media_type', 415, 'Could not upload file, invalid type: PrintBox stores G-code files (.gcode, .gco, .g)');
  try { return sanitizeName(raw); } catch (e) {
    throw e instanceof AppError ? badRequest('bad_filename', `Can not upload file, invalid file name: ${e.message}`) : e;
  }
}

let multerLib: typeof Multer | undefined;

export interface Upload { spool: string; name: string; checked: CheckedUpload; fields: Record<string, unknown> }

/** Reads the multipart upload: field `file` into the checked spool, the other fields as strings. */
export async function receiveUpload(store: FileStore, req: Request, res: Response): Promise<Upload> {
  const multer = (multerLib ??= (await import('multer')).default);
  const upload = multer({
    storage: checkedSpool(store),
    limits: { fileSize: MAX_UPLOAD_BYTES, files: 1, fields: 10, parts: 11, fieldSize: 64 * 1024 },
    preservePath: true, // a hostile "../x.gcode" must be refused, not trimmed to "x.gcode"
    fileFilter: (_req, file, cb) => { try { checkName(utf8Name(file)); cb(null, true); } catch (e) { cb(e as Error); } },
  }).single('file');
  const file = await new Promise<Express.Multer.File & CheckedUpload>((resolve, reject) => {
    upload(req, res, (err: unknown) => {
      if (err instanceof AppError) return reject(err);
      if (['ENOSPC', 'EDQUOT'].includes((err as NodeJS.ErrnoException | undefined)?.code ?? '')) return reject(new AppError('disk_full', 507, 'Not enough free space on the PrintBox for this file'));
      if (err instanceof multer.MulterError) {
        if (err.code === 'LIMIT_FILE_SIZE') return reject(new AppError('file_too_large', 413, `Files larger than ${MAX_UPLOAD_BYTES / 1024 / 1024} MB are not accepted`));
        return reject(badRequest('bad_upload', `Upload rejected: ${err.message} (send one file in the field "file")`));
      }
      if (err) return reject(badRequest('bad_upload', 'The upload could not be read'));
      // OctoPrint's own words for a request without a file (octoprint/server/api/files.py uploadGcodeFile).
      if (!req.file) return reject(badRequest('bad_upload', 'No file to upload and no folder to create (send the file in the field "file")'));
      resolve(req.file as Express.Multer.File & CheckedUpload);
    });
  });
  const fields = (req.body ?? {}) as Record<string, unknown>;
  return { spool: file.path, name: checkName(utf8Name(file)), checked: file, fields };
}

/** OctoPrint's valid_boolean_trues (octoprint/settings/__init__.py). */
export const isTrue = (v: unknown) => v === true || (typeof v === 'string' && ['true', 'yes', 'y', '1', 'on'].includes(v.toLowerCase()));
