/**
 * The receiving half of an independent Marlin model, written from Marlin 2.1.x's source rather than from
 * PrintBox's sender (so it can disagree with it):
 * - RX ring (Marlin/src/HAL/AVR/MarlinSerial.cpp, store_rxd_char): RX_BUFFER_SIZE bytes hold SIZE-1; a byte
 *   that arrives while the ring is full is dropped (SERIAL_STATS_DROPPED_RX counts it, nothing is said).
 * - get_serial_commands (Marlin/src/gcode/queue.cpp): bytes are read only while the command queue has room;
 *   `;` starts a comment, lines longer than MAX_CMD_SIZE are cut; a line starting with N must be N = last+1
 *   (unless it contains M110, whose *second* N is taken), must carry `*` and the XOR of every byte before it.
 *   Otherwise gcode_line_error: `Error:<why>, Last Line: <last>`, the RX ring is emptied, `Resend: last+1`.
 */

/** queue.h: MAX_CMD_SIZE 96 (the terminating NUL takes one). */
const MAX_CMD_SIZE = 96;

export type LineFault = (line: string) => string;

export class SerialIn {
  lastN = 0;
  /** Bytes lost to a full RX ring (MarlinSerial's rx_dropped_bytes). */
  dropped = 0;
  private ring: number[] = [];
  private buf = '';
  private skipping = false;

  constructor(private readonly rxSize: number) {}

  /** The RX ISR: one byte off the wire. */
  store(byte: number): void {
    if (this.ring.length >= this.rxSize - 1) { this.dropped++; return; }
    this.ring.push(byte);
  }

  get available(): number { return this.ring.length; }

  /** Reset: the ring, the partial line and the line count are gone. */
  clear(): void { this.ring = []; this.buf = ''; this.skipping = false; this.lastN = 0; }

  /**
   * get_serial_commands: reads while `room()`; each complete, non-empty line is either accepted (returned to
   * `accept` as received, N and checksum included, like ring_buffer.enqueue(serial.line_buffer)) or rejected:
   * `reject(why)` is called after the ring was emptied and reading stops for this round (the `break`).
   * `fault` may damage a completed line before it is checked (injected line noise).
   */
  read(room: () => boolean, accept: (line: string) => void, reject: (why: string) => void, fault?: LineFault): void {
    while (room() && this.ring.length) {
      const c = this.ring.shift()!;
      if (c !== 10 && c !== 13) { this.streamChar(c); continue; }
      const line = fault ? fault(this.buf) : this.buf;
      this.buf = ''; this.skipping = false;
      if (!line) continue; // process_line_done: an empty line only keeps the heaters managed
      const why = this.check(line);
      if (why) { this.ring = []; reject(why); return; }
      accept(line);
    }
  }

  /** process_stream_char without PAREN_COMMENTS/quoted strings: `;` to end of line, overflow skips the rest. */
  private streamChar(c: number): void {
    if (this.skipping) return;
    if (c === 0x3b) { this.skipping = true; return; }
    if (c === 0x08) { this.buf = this.buf.slice(0, -1); return; }
    this.buf += String.fromCharCode(c);
    if (this.buf.length >= MAX_CMD_SIZE - 1) this.skipping = true;
  }

  /** The N / checksum checks of get_serial_commands, in Marlin's order; undefined = accepted. */
  private check(line: string): string | undefined {
    const command = line.replace(/^ +/, '');
    if (command[0] !== 'N') return undefined;
    const m110 = command.includes('M110');
    let npos = 0;
    if (m110) { const n2 = command.indexOf('N', 4); if (n2 >= 0) npos = n2; }
    const n = strtol(command.slice(npos + 1));
    if (n !== this.lastN + 1 && !m110) return `Line Number is not Last Line Number+1, Last Line: ${this.lastN}`;
    const star = command.lastIndexOf('*');
    if (star < 0) return `No Checksum with line number, Last Line: ${this.lastN}`;
    let cs = 0;
    for (let i = 0; i < star; i++) cs ^= command.charCodeAt(i);
    if (strtol(command.slice(star + 1)) !== (cs & 0xff)) return `checksum mismatch, Last Line: ${this.lastN}`;
    this.lastN = n;
    return undefined;
  }
}

/** C's strtol(s, nullptr, 10): leading digits (after an optional sign), 0 when there are none. */
export function strtol(s: string): number {
  const m = /^\s*([+-]?\d+)/.exec(s);
  return m ? Number(m[1]) : 0;
}
