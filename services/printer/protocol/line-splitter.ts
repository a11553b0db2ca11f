/**
 * Framing: a stream.Transform from serial bytes to text lines (objectMode out). CR/LF tolerant,
 * bounded so a babbling device at the wrong baud rate cannot grow memory without limit.
 */
import { Transform, type TransformCallback } from 'node:stream';

const MAX_LINE = 1024;

export class LineSplitter extends Transform {
  private buf = '';
  constructor() { super({ readableObjectMode: true }); }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    // latin1 keeps one char per byte, so garbage at a wrong baud rate never throws or merges bytes.
    this.buf += chunk.toString('latin1');
    let i: number;
    while ((i = this.buf.search(/[\r\n]/)) >= 0) {
      const line = this.buf.slice(0, i).trim();
      this.buf = this.buf.slice(i + 1);
      if (line) this.push(line);
    }
    if (this.buf.length > MAX_LINE) { this.push(this.buf.slice(0, MAX_LINE)); this.buf = ''; }
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.buf.trim()) this.push(this.buf.trim());
    this.buf = '';
    done();
  }
}
