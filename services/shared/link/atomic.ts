/**
 * Power-cut-safe file replacement: write a temp file in the same directory, fsync it, rename over
 * the target, fsync the directory. After a crash the target holds either the old or the new bytes,
 * never a mix — on ext4 (data dir) and on FAT (boot partition, where rename within a directory is
 * the only atomic step available).
 */
import fs from 'node:fs';
import path from 'node:path';

export interface AtomicOptions { mode?: number; uid?: number; gid?: number }

export function writeFileAtomic(file: string, data: string | Buffer, opts: AtomicOptions = {}): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}`);
  const fd = fs.openSync(tmp, 'w', opts.mode ?? 0o644);
  try {
    fs.writeFileSync(fd, data);
    // FAT has no permission bits or owners; these calls fail there (EPERM), which is harmless.
    if (opts.mode !== undefined) try { fs.fchmodSync(fd, opts.mode); } catch { /* FAT */ }
    if (opts.uid !== undefined && opts.gid !== undefined) try { fs.fchownSync(fd, opts.uid, opts.gid); } catch { /* FAT or not root */ }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  fsyncDir(dir);
}

export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try { fd = fs.openSync(dir, 'r'); fs.fsyncSync(fd); } catch { /* some filesystems refuse fsync on a directory */ } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Removes temp files a killed writer left behind (`.<name>.tmp-<pid>`). */
export function removeStaleTemps(dir: string, name: string): void {
  let entries: string[] = [];
  try { entries = fs.readdirSync(dir); } catch { return; }
  for (const e of entries) if (e.startsWith(`.${name}.tmp-`)) try { fs.unlinkSync(path.join(dir, e)); } catch { /* gone */ }
}
