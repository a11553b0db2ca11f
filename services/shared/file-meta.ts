/**
 * What the file store remembers beside each G-code file, so listing and starting a print never re-read
 * a 300 MB file: `.<name>.meta` (JSON: command count, the size it belongs to, and the slicer metadata)
 * and `.<name>.thumb` (the embedded thumbnail served to the UI, at most ~1 MB). Older .meta files hold
 * only { lines, size }: they stay valid, their metadata is read on the next listing. Everything is
 * trusted only while the file keeps the size it was described at.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { GcodeDescriber, type Description, type FileMetadata } from './gcode-meta/describe.ts';
import { stripComment } from './gcode.ts';

export interface StoredMeta { lines: number; size: number; metadata?: FileMetadata }

export const metaPathOf = (full: string) => path.join(path.dirname(full), `.${path.basename(full)}.meta`);
export const thumbPathOf = (full: string) => path.join(path.dirname(full), `.${path.basename(full)}.thumb`);
/** Named like an upload spool, so a write cut short by a power loss is swept at the next start. */
const tempOf = (full: string) => path.join(path.dirname(full), `.upload-${process.pid}-${Date.now()}-m${Math.random().toString(36).slice(2)}`);

/** The stored record for `full` at `size`; undefined when there is none, it is unreadable, or the size differs. */
export async function readMeta(full: string, size: number): Promise<StoredMeta | undefined> {
  try {
    const m = JSON.parse(await fsp.readFile(metaPathOf(full), 'utf8')) as Partial<StoredMeta>;
    if (typeof m.lines !== 'number' || !Number.isInteger(m.lines) || m.lines < 0 || m.size !== size) return undefined;
    const metadata = m.metadata && typeof m.metadata === 'object' ? m.metadata : undefined;
    return { lines: m.lines, size, ...(metadata ? { metadata } : {}) };
  } catch { return undefined; }
}

/** Replaces `target` atomically: a reader (the other service) never sees half a file. */
async function writeAtomic(target: string, data: string | Buffer): Promise<void> {
  const tmp = tempOf(target);
  try {
    await fsp.writeFile(tmp, data, { mode: 0o660 });
    await fsp.rename(tmp, target);
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}

/** Stores count, metadata and thumbnail of `full`; the thumbnail goes first so a .meta never names a missing image. */
export async function writeMeta(full: string, lines: number, size: number, description?: Description): Promise<void> {
  if (description?.thumbnail) await writeAtomic(thumbPathOf(full), Buffer.from(description.thumbnail.base64, 'base64'));
  else if (description) await fsp.rm(thumbPathOf(full), { force: true });
  await writeAtomic(metaPathOf(full), JSON.stringify({ lines, size, ...(description ? { metadata: description.metadata } : {}) }));
}

/**
 * Stores a command count found by the printer's own pass over a file copied in by hand, keeping any
 * metadata already described for the same size (the web may have listed the file first).
 */
export async function mergeCount(full: string, lines: number, size: number): Promise<void> {
  const old = await readMeta(full, size);
  await writeAtomic(metaPathOf(full), JSON.stringify({ lines, size, ...(old?.metadata ? { metadata: old.metadata } : {}) }));
}

/** A longer line means this is not G-code text; describing stops rather than buffering it. */
const MAX_LINE = 1024 * 1024;

/**
 * Reads a file that has no metadata yet (copied in by hand, or stored before metadata existed) once,
 * counting its commands the way the job reader does and describing it. Lenient: it is already on the
 * card, so a line the upload check would refuse is no reason to leave it undescribed. Undefined when
 * the file is not text or changed while it was read.
 */
export async function describeFile(full: string): Promise<{ lines: number; size: number; description: Description } | undefined> {
  const { size } = await fsp.stat(full);
  const describer = new GcodeDescriber();
  let lines = 0; let carry = ''; let first = true;
  const line = (raw: string) => {
    const l = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (stripComment(l)) lines++;
    describer.line(l);
  };
  for await (const chunk of fs.createReadStream(full, { encoding: 'latin1', highWaterMark: 64 * 1024 }) as AsyncIterable<string>) {
    let text = carry + chunk;
    if (first) { text = text.replace(/^\xef\xbb\xbf/, ''); first = false; }
    let from = 0; let i: number;
    while ((i = text.indexOf('\n', from)) >= 0) { line(text.slice(from, i)); from = i + 1; }
    carry = text.slice(from);
    if (carry.length > MAX_LINE) return undefined;
  }
  if (carry) line(carry);
  if ((await fsp.stat(full)).size !== size) return undefined;
  return { lines, size, description: describer.result() };
}
