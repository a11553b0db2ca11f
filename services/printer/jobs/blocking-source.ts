/**
 * A job's lines with "wait for the user" commands sent alone: M0/M1 (and M600, which waits for the user
 * to change filament) go out only once every line before them is acknowledged, and nothing follows them
 * until they are. OctoPrint does the same with its default `serial.blockingCommands` / `pausingCommands`
 * (M400, M226, M600 / M0, M1, M25).
 * Why it matters here: while the firmware waits, the host's answer (M876 S<n>, M108) must reach Marlin's
 * emergency parser and, to be acknowledged, still fit its RX ring buffer. Streaming past the waiting command
 * fills that buffer with job lines; the answer is then parsed but dropped from the buffer (MarlinSerial
 * store_rxd_char feeds the emergency parser before the full-buffer check), its `ok` never comes, and the
 * sender stalls on the missing ok. Sent alone, the waiting command leaves the buffer empty.
 */
import { commandWord } from '../../shared/gcode.ts';
import type { JobLine, LineSource } from '../protocol/sender.ts';

export const WAITS_FOR_USER = new Set(['M0', 'M1', 'M600']);

export class BlockingSource implements LineSource {
  /** A waiting command read but not sent yet: lines before it are still in flight. */
  private held: JobLine | undefined;
  /** After a waiting command is sent: lines are held back until the job has this many acknowledged. */
  private until = -1;
  private ready: (() => void) | undefined;

  /** `acked`: how many job lines are acknowledged (JobRecord.lines_sent: the next index to confirm). */
  constructor(private readonly inner: LineSource, private readonly acked: () => number) {}

  next(): JobLine | 'wait' | null {
    if (this.held) {
      if (this.acked() < this.held.index) return 'wait';
      const l = this.held;
      this.held = undefined;
      this.until = l.index + 1;
      return l;
    }
    if (this.until >= 0) {
      if (this.acked() < this.until) return 'wait';
      this.until = -1;
    }
    const l = this.inner.next();
    if (l === 'wait' || l === null || !WAITS_FOR_USER.has(commandWord(l.cmd))) return l;
    this.held = l;
    return this.next();
  }

  onReady(fn: () => void): void { this.ready = fn; this.inner.onReady(fn); }

  /** A job line was acknowledged: a held line (or the lines after a waiting command) may go now. */
  onAcked(): void { if (this.held || this.until >= 0) this.ready?.(); }
}
