/**
 * A multer storage engine that checks the G-code while the upload is written to its spool file (same
 * rules as FileStore's import, via GcodeCheck): a 300 MB upload is not read back from the SD card
 * afterwards, so the user does not wait through a second, unmeasured "checking" pass — and a file that
 * is not G-code stops being written at its first bad line.
 */
import fs from 'node:fs';
import { Transform } from 'node:stream';
import type { Request } from 'express';
import type { StorageEngine } from 'multer';
import { GcodeCheck, type FileStore } from '../shared/files.ts';
import type { Description } from '../shared/gcode-meta/describe.ts';

/** What multer puts on req.file: the spool path, its size, the command count and the metadata found. */
export interface CheckedUpload { path: string; size: number; lines: number; description: Description }

export function checkedSpool(store: FileStore): StorageEngine {
  return {
    _handleFile(_req: Request, file: Express.Multer.File, cb: (error?: unknown, info?: Partial<Express.Multer.File> & CheckedUpload) => void) {
      const spool = store.tempPath();
      const check = new GcodeCheck();
      let size = 0;
      let failed = false;
      const tap = new Transform({
        transform(chunk: Buffer, _enc, done) {
          size += chunk.length;
          try { check.write(chunk.toString('latin1')); } catch (e) { done(e as Error); return; }
          done(null, chunk);
        },
      });
      const out = fs.createWriteStream(spool, { mode: 0o660 });
      const fail = (err: unknown) => {
        if (failed) return;
        failed = true;
        // The part's stream is left to busboy (multer drains the request before it answers): only stop writing.
        file.stream.unpipe(tap);
        file.stream.resume();
        tap.destroy();
        out.destroy();
        void fs.promises.rm(spool, { force: true }).finally(() => cb(err));
      };
      tap.on('error', fail);
      out.on('error', fail);
      out.on('finish', () => {
        if (failed) return;
        let lines: number;
        try { lines = check.end(); } catch (e) { fail(e); return; }
        cb(null, { path: spool, size, lines, description: check.description() });
      });
      file.stream.pipe(tap).pipe(out);
    },
    _removeFile(_req: Request, file: Express.Multer.File, cb: (error: Error | null) => void) {
      fs.promises.rm(file.path, { force: true }).then(() => cb(null), cb);
    },
  };
}
