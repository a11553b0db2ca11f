/**
 * Streams a G-code file as command lines for the sender (a LineSource): comments stripped, blank
 * lines skipped, each line tagged with its command index and the byte offset after it (progress by
 * bytes, resume points). Reads ahead in 64 KB chunks so a 100 MB file never sits in memory.
 */
import fsp from 'node:fs/promises';
import { stripComment } from '../../shared/gcode.ts';
import { rememberCommandCount, storedCommandCount } from '../../shared/files.ts';
import type { JobLine, LineSource } from '../protocol/sender.ts';

const CHUNK = 64 * 1024;
const LOW_WATER = 256;

export class JobReader implements LineSource {
  private buffered: JobLine[] = [];
  private head = 0;
  private pos = 0;
  private index = 0;
  private carry = '';
  private eof = false;
  private reading = false;
  private ready: Array<() => void> = [];
  private fh: fsp.FileHandle | undefined;
  private read = 0;
  error: Error | undefined;

  /** Bytes of the file read so far (shows whether a resume seeked or read through). */
  get bytesRead(): number { return this.read; }

  private constructor(private readonly file: string, private readonly skip: number) {}

  /**
   * Opens `file` positioned at command `startIndex` (0 = beginning; a resume point otherwise). With the
   * resume point's `startByte` (the end of command startIndex-1) it seeks there instead of reading
   * through the file: resuming at 90 % of a 300 MB file on a Pi's SD card would otherwise take many
   * seconds. The seek is only trusted when that byte ends a line; anything else re-reads and counts.
   */
  static async open(file: string, startIndex = 0, startByte = 0): Promise<JobReader> {
    const r = new JobReader(file, startIndex);
    r.fh = await fsp.open(file, 'r');
    // A UTF-8 byte order mark (Windows editors) would otherwise be sent as part of the first command.
    const bom = Buffer.alloc(3);
    const { bytesRead } = await r.fh.read(bom, 0, 3, 0);
    if (bytesRead === 3 && bom.equals(Buffer.from([0xef, 0xbb, 0xbf]))) r.pos = 3;
    if (startIndex > 0 && startByte > 0) {
      const b = Buffer.alloc(1);
      const { bytesRead } = await r.fh.read(b, 0, 1, startByte - 1);
      if (bytesRead === 1 && b[0] === 0x0a) { r.pos = startByte; r.index = startIndex; }
    }
    await r.fill();
    return r;
  }

  next(): JobLine | 'wait' | null {
    if (this.head < this.buffered.length) {
      const line = this.buffered[this.head++]!;
      if (this.buffered.length - this.head < LOW_WATER && !this.eof) void this.fill();
      return line;
    }
    if (this.eof) return null;
    void this.fill();
    return 'wait';
  }

  onReady(fn: () => void): void { this.ready = [fn]; }

  async close(): Promise<void> { const fh = this.fh; this.fh = undefined; this.eof = true; await fh?.close(); }

  private async fill(): Promise<void> {
    if (this.reading || this.eof || !this.fh) return;
    this.reading = true;
    try {
      // Skipping to a resume point reads through the file; lines before it are counted, not kept.
      do {
        if (this.head > 0) { this.buffered = this.buffered.slice(this.head); this.head = 0; }
        const buf = Buffer.alloc(CHUNK);
        const { bytesRead } = await this.fh.read(buf, 0, CHUNK, this.pos);
        const start = this.pos;
        this.pos += bytesRead;
        this.read += bytesRead;
        if (bytesRead === 0) { this.eof = true; this.emitLine(this.carry, this.pos); this.carry = ''; break; }
        const text = this.carry + buf.subarray(0, bytesRead).toString('latin1');
        let offset = start - this.carry.length;
        let i: number; let from = 0;
        while ((i = text.indexOf('\n', from)) >= 0) {
          this.emitLine(text.slice(from, i), offset + i + 1);
          from = i + 1;
        }
        this.carry = text.slice(from);
        offset += from;
      } while (this.buffered.length - this.head < LOW_WATER);
    } catch (e) {
      this.error = e as Error; this.eof = true;
    } finally {
      this.reading = false;
    }
    this.ready.forEach((f) => f());
  }

  private emitLine(raw: string, byteEnd: number): void {
    const cmd = stripComment(raw);
    if (!cmd) return;
    const index = this.index++;
    if (index < this.skip) return;
    this.buffered.push({ cmd, index, byteEnd });
  }
}

/**
 * Command lines of a file (lines_total): the count stored at upload when the file is unchanged (a
 * 300 MB file on a Pi takes many seconds to read, and the user waits on "Start print" meanwhile),
 * else counted here without keeping the file in memory.
 */
export async function countCommands(file: string): Promise<number> {
  const stored = await storedCommandCount(file);
  if (stored !== undefined) return stored;
  const { size } = await fsp.stat(file);
  const r = await JobReader.open(file);
  let n = 0;
  for (;;) {
    const l = r.next();
    if (l === null) break;
    if (l === 'wait') { await new Promise<void>((res) => r.onReady(res)); continue; }
    n++;
  }
  await r.close();
  // Unless the file changed while it was read (then the count belongs to neither version).
  if ((await fsp.stat(file)).size === size) await rememberCommandCount(file, n, size);
  return n;
}
