/**
 * The G-code file store (<dataDir>/files), shared by web (upload/list/delete) and printer (read for jobs).
 * Names are sanitised to a flat, printable basename — no separators, no "..", no hidden files — and
 * every resolved path is checked to stay inside the directory. Content is validated line by line
 * (printable G-code, UTF-8 allowed, bounded command length) while it is copied, then fsynced and renamed into
 * place atomically, so a power cut never leaves half a file under a real name. The same pass reads the
 * slicer's metadata and thumbnail (gcode-meta/), stored beside the file (file-meta.ts).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { AppError, badRequest, notFound } from './errors.ts';
import { describeFile, mergeCount, metaPathOf, readMeta, thumbPathOf, writeMeta } from './file-meta.ts';
import { EMPTY_METADATA, GcodeDescriber, type Description, type FileMetadata } from './gcode-meta/describe.ts';
import { GCODE_EXTENSIONS } from './gcode-names.ts';
import { commandProblem, stripComment } from './gcode.ts';

export interface FileInfo { name: string; size: number; lines: number; modified: string; metadata: FileMetadata }

/** EF BB BF read as latin1. */
export const UTF8_BOM_LATIN1 = '\xef\xbb\xbf';
const MAX_NAME = 120;

/** Returns the safe name or throws 400 bad_filename. Never "fixes" hostile names silently into others. */
export function sanitizeName(raw: unknown): string {
  if (typeof raw !== 'string') throw badRequest('bad_filename', 'File name missing');
  const name = raw.normalize('NFC').trim();
  if (!name || name.length > MAX_NAME) throw badRequest('bad_filename', `File name must be 1-${MAX_NAME} characters`);
  if (/[/\\\x00-\x1f\x7f]/.test(name)) throw badRequest('bad_filename', 'File name must not contain path separators or control characters');
  if (name.startsWith('.')) throw badRequest('bad_filename', 'File name must not start with a dot');
  if (!/^[\p{L}\p{N} ._+()\-[\]]+$/u.test(name)) throw badRequest('bad_filename', 'File name contains characters that are not allowed');
  if (!GCODE_EXTENSIONS.test(name)) throw badRequest('bad_filename', 'File name must end in .gcode, .gco or .g');
  return name;
}

/**
 * Counts command lines; throws 400 bad_gcode with the first offending line number. Lines are split on
 * LF exactly as the job reader does (a CR is only allowed right before LF), so the count stored here
 * is the count a print sends: a CR-only file would pass a readline-based check line by line and then
 * go to the printer as one long line.
 */
export async function validateGcode(file: string): Promise<{ lines: number; size: number; description: Description }> {
  const size = (await fsp.stat(file)).size;
  const check = new GcodeCheck();
  for await (const chunk of fs.createReadStream(file, { encoding: 'latin1', highWaterMark: 64 * 1024 }) as AsyncIterable<string>) check.write(chunk);
  return { lines: check.end(), size, description: check.description() };
}

/** No G-code line comes near this; a file without line breaks (binary, minified) must not fill the memory. */
const MAX_LINE_BYTES = 1024 * 1024;

/**
 * validateGcode() as a stream check: write() the bytes in order as latin1 strings (any chunking — an
 * upload arrives in pieces of any size), then end() gives the command count. Each throws 400 bad_gcode
 * at the first bad line, so an upload can be checked while it arrives instead of read again afterwards.
 * Every line also goes to a GcodeDescriber, so the slicer's metadata comes from the same single pass.
 */
export class GcodeCheck {
  private n = 0;
  private lines = 0;
  private carry = '';
  private started = false;
  private describer = new GcodeDescriber();

  /** Metadata and thumbnail of what was written (after end()); never throws. */
  description(): Description { return this.describer.result(); }

  write(chunk: string): void {
    let text = this.carry + chunk;
    if (!this.started) {
      // A UTF-8 byte order mark (Windows editors) is not part of line 1; the job reader skips it too.
      if (text.length < UTF8_BOM_LATIN1.length && UTF8_BOM_LATIN1.startsWith(text)) { this.carry = text; return; }
      if (text.startsWith(UTF8_BOM_LATIN1)) text = text.slice(UTF8_BOM_LATIN1.length);
      this.started = true;
    }
    let from = 0; let i: number;
    while ((i = text.indexOf('\n', from)) >= 0) { this.line(text.slice(from, i)); from = i + 1; }
    this.carry = text.slice(from);
    if (this.carry.length > MAX_LINE_BYTES) throw badRequest('bad_gcode', `Line ${this.n + 1}: longer than 1 MB without a line break; this is not a G-code text file`);
  }

  end(): number {
    if (this.carry) this.line(this.carry);
    this.carry = '';
    if (this.lines === 0) throw badRequest('bad_gcode', 'The file contains no G-code commands');
    return this.lines;
  }

  private line(raw: string): void {
    const n = ++this.n;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.includes('\0')) throw badRequest('bad_gcode', `Line ${n}: binary data (NUL byte); this is not a G-code text file`);
    if (line.includes('\r')) throw badRequest('bad_gcode', `Line ${n}: CR-only line endings (old Mac style); save the file with LF or CRLF line endings`);
    this.describer.line(line);
    const cmd = stripComment(line);
    if (!cmd) return;
    const problem = commandProblem(cmd);
    // The line itself (as UTF-8, shortened) lets the user find it in a file of millions of lines.
    if (problem) throw badRequest('bad_gcode', `Line ${n}: ${problem}: “${shorten(Buffer.from(cmd, 'latin1').toString('utf8'))}”`);
    this.lines++;
  }
}

/**
 * The command count stored at upload (see FileStore.import), or undefined when there is none or the
 * file changed since (size differs). Lets a print start without reading a 300 MB file a second time.
 */
export async function storedCommandCount(full: string): Promise<number | undefined> {
  try { return (await readMeta(full, (await fsp.stat(full)).size))?.lines; } catch { return undefined; }
}

/**
 * Stores a command count found by reading a file that had none (copied in by hand), so the next start
 * and the listing need not read it again; metadata already stored for it is kept. Best effort: a
 * read-only files dir only costs the re-count.
 */
export async function rememberCommandCount(full: string, lines: number, size: number): Promise<void> {
  await mergeCount(full, lines, size).catch(() => undefined);
}

const shorten = (t: string) => (t.length > 40 ? `${t.slice(0, 40)}…` : t);

export interface FileStoreOptions {
  /** Called when metadata was found for a file the listing had none for (the UI then reloads the list). */
  onDescribed?: () => void;
}

export class FileStore {
  /** Files being described in the background, one at a time: a Pi reads one large file at a time best. */
  private describing = new Set<string>();
  /** Files (path@size) that could not be described (not text): not read again on every listing. */
  private undescribable = new Set<string>();
  private queue: Promise<void> = Promise.resolve();

  constructor(readonly dir: string, private readonly opts: FileStoreOptions = {}) {}

  async init(): Promise<void> { await fsp.mkdir(this.dir, { recursive: true, mode: 0o770 }); }

  /** Absolute path of a stored file; the name is sanitised and the result confined to the directory. */
  path(name: string): string {
    const safe = sanitizeName(name);
    const full = path.resolve(this.dir, safe);
    if (path.dirname(full) !== path.resolve(this.dir)) throw badRequest('bad_filename', 'Invalid file name');
    return full;
  }

  /**
   * Removes spool files of uploads whose process is gone (power cut or crash mid-upload): hidden, they
   * would hold up to 512 MB of the SD card forever. A spool of a live process (EPERM = alive, another
   * user) written to within a day is an upload in progress and stays. Also drops counts (.meta) and
   * thumbnails (.thumb) whose file is gone. Returns the names removed.
   */
  async sweepSpool(): Promise<string[]> {
    const removed: string[] = [];
    const names = await fsp.readdir(this.dir);
    for (const name of names) {
      // A count whose file was removed by hand would be trusted for a later file of the same name and size.
      const counted = /^\.(.+)\.(?:meta|thumb)$/.exec(name)?.[1];
      if (counted && !names.includes(counted)) { await fsp.rm(path.join(this.dir, name), { force: true }); removed.push(name); continue; }
      const pid = Number(/^\.upload-(\d+)-/.exec(name)?.[1]);
      if (!pid) continue;
      // After a reboot the pid may belong to something else: a day without a write is no upload either.
      const stale = await fsp.stat(path.join(this.dir, name)).then((st) => Date.now() - st.mtimeMs > 86_400_000, () => false);
      if (!stale) try { process.kill(pid, 0); continue; } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ESRCH') continue; }
      await fsp.rm(path.join(this.dir, name), { force: true });
      removed.push(name);
    }
    return removed;
  }

  /** Where uploads are spooled before validation (same filesystem, so the final rename is atomic). */
  tempPath(): string { return path.join(this.dir, `.upload-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`); }

  /**
   * Validates a spooled upload and moves it into place under `name`; the temp file is always removed.
   * `checked`: the spool was already checked by a GcodeCheck while it was written (uploads), so it
   * is not read a second time.
   */
  async import(tempFile: string, name: string, checked?: { lines: number; description: Description }): Promise<FileInfo> {
    try {
      const dest = this.path(name);
      if (path.dirname(path.resolve(tempFile)) !== path.resolve(this.dir)) throw new AppError('internal', 500, 'Upload spooled outside the files dir');
      const { lines, size, description } = checked === undefined ? await validateGcode(tempFile) : { ...checked, size: (await fsp.stat(tempFile)).size };
      const fh = await fsp.open(tempFile, 'r+');
      try { await fh.sync(); } finally { await fh.close(); }
      await fsp.rename(tempFile, dest);
      // Count and metadata are remembered next to the file so listing never re-reads large files.
      await writeMeta(dest, lines, size, description);
      const dh = await fsp.open(this.dir, 'r');
      try { await dh.sync(); } finally { await dh.close(); }
      return { name: path.basename(dest), size, lines, modified: new Date().toISOString(), metadata: description.metadata };
    } finally {
      await fsp.rm(tempFile, { force: true });
    }
  }

  /** Convenience for tests and the CLI: store a buffer through the same validation. */
  async save(name: string, content: Buffer | string): Promise<FileInfo> {
    this.path(name);
    const tmp = this.tempPath();
    await fsp.writeFile(tmp, content, { mode: 0o660 });
    return this.import(tmp, name);
  }

  async list(): Promise<FileInfo[]> {
    const out: FileInfo[] = [];
    for (const ent of await fsp.readdir(this.dir, { withFileTypes: true })) {
      if (!ent.isFile() || ent.name.startsWith('.') || !GCODE_EXTENSIONS.test(ent.name)) continue;
      const full = path.join(this.dir, ent.name);
      const st = await fsp.stat(full);
      const meta = await readMeta(full, st.size);
      // Copied in by hand or stored before metadata existed: described in the background, listed now.
      if (!meta?.metadata) void this.describeLater(full, st.size);
      out.push({ name: ent.name, size: st.size, lines: meta?.lines ?? -1, modified: st.mtime.toISOString(), metadata: { ...EMPTY_METADATA, ...meta?.metadata } });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * The embedded thumbnail of a file: its path and format. A file not described yet is described
   * first (one read). 404 when the file or its thumbnail does not exist.
   */
  async thumbnail(name: string): Promise<{ path: string; format: 'png' | 'jpg' }> {
    const full = this.path(name);
    const size = await fsp.stat(full).then((st) => st.size, () => { throw notFound('File'); });
    let meta = await readMeta(full, size);
    if (!meta?.metadata) { await this.describeLater(full, size); meta = await readMeta(full, size); }
    const format = meta?.metadata?.thumbnail?.format;
    if (!format || !(await fsp.access(thumbPathOf(full)).then(() => true, () => false))) throw notFound('Thumbnail');
    return { path: thumbPathOf(full), format };
  }

  /** Resolves when the background descriptions started so far are done (tests, shutdown). */
  whenDescribed(): Promise<void> { return this.queue; }

  private describeLater(full: string, size: number): Promise<void> {
    if (this.describing.has(full) || this.undescribable.has(`${full}@${size}`)) return this.queue;
    this.describing.add(full);
    this.queue = this.queue.then(async () => {
      try {
        const found = await describeFile(full);
        if (found) { await writeMeta(full, found.lines, found.size, found.description); this.opts.onDescribed?.(); }
        else this.undescribable.add(`${full}@${size}`);
      } catch { /* gone or unreadable: the next listing tries again */ } finally { this.describing.delete(full); }
    });
    return this.queue;
  }

  async stat(name: string): Promise<{ size: number }> {
    try { return { size: (await fsp.stat(this.path(name))).size }; } catch (e) {
      if (e instanceof AppError) throw e;
      throw notFound('File');
    }
  }

  async remove(name: string): Promise<void> {
    try {
      const full = this.path(name);
      await fsp.unlink(full);
      await fsp.rm(metaPathOf(full), { force: true });
      await fsp.rm(thumbPathOf(full), { force: true });
    } catch (e) {
      if (e instanceof AppError) throw e;
      throw notFound('File');
    }
  }
}
