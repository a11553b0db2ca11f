/**
 * One open connection to a printer: the port plus the Sender that numbers lines on it, and the
 * bookkeeping of who waits for what (run() waiters by command id, drain waiters, the M105 poll).
 * Printer creates one per successful probe and drops it when the port closes; nothing here decides
 * what to send — Printer and JobControl do.
 */
import { AppError } from '../../shared/errors.ts';
import type { Response } from '../protocol/responses.ts';
import { Sender, type JobLine, type LineSource, type SenderFailure, type Tag } from '../protocol/sender.ts';
import type { PortLike } from '../serial/port.ts';

export interface LinkDeps {
  port: PortLike;
  okTimeoutMs: number;
  rxBytes: number;
  /** A job line was acknowledged by the firmware (resent duplicates included: the caller filters). */
  onJobAcked: (line: JobLine) => void;
  /** Nothing queued or in flight and no job source: a print may have finished. */
  onDrained: () => void;
  onTimeout: () => void;
  /** The sender gave up (no answer to its polls, or line numbering it cannot trust): nothing more is sent. */
  onFailed: (f: SenderFailure) => void;
  /** A job line the firmware could not read whole was not sent; the job must stop (the link stays up). */
  onRefused: (line: JobLine, message: string) => void;
}

export class PrinterLink {
  private readonly sender: Sender;
  private waiters = new Map<number, { done: () => void; fail: (e: AppError) => void }>();
  private drainWaiters: Array<() => void> = [];
  private poll: NodeJS.Timeout | undefined;
  private pollPending = false;
  private pollId = -1;
  private open = true;

  constructor(private readonly deps: LinkDeps) {
    this.sender = new Sender({ write: (d) => { if (this.open) deps.port.write(d); }, okTimeoutMs: deps.okTimeoutMs, rxBytes: deps.rxBytes });
    this.sender.on('acked', (tag) => this.onAcked(tag));
    this.sender.on('drained', () => this.onDrained());
    this.sender.on('timeout', () => deps.onTimeout());
    this.sender.on('failed', (f) => {
      this.failWaiters(new AppError('printer_failed', 503, f.message));
      deps.onFailed(f);
    });
    this.sender.on('refused', (line, message) => deps.onRefused(line, message));
  }

  /** Numbering starts afresh (`N0 M110 N0`): a new connection. */
  reset(): void { this.sender.reset(); }

  /** No autoreport: poll, also while printing (one M105 at a time, queued ahead of job lines). */
  pollTemperatures(everyMs: number): void {
    clearInterval(this.poll);
    this.poll = setInterval(() => { if (!this.pollPending && this.open) { this.pollPending = true; this.pollId = this.sender.command('M105'); } }, everyMs);
  }

  command(cmd: string): number { return this.sender.command(cmd); }
  /** What M115 said the firmware is: its resend request carries no ok (Smoothieware). */
  firmware(name: string): void { this.sender.setResendOk(!/smoothie/i.test(name)); }
  nextAck(): Tag | undefined { return this.sender.nextAck; }
  raw(cmd: string): void { this.sender.raw(cmd); }
  /** Unnumbered, now, past the window, and its ok is expected in order (M108/M410, heater-off after a halt). */
  unnumbered(cmd: string): void { this.sender.unnumbered(cmd); }
  /** M112 raw and numbered, then `after` (heaters off); nothing else is sent on this connection. */
  emergencyStop(after: string[]): void {
    this.sender.emergencyStop(after);
    this.failWaiters(new AppError('printer_halted', 503, 'Emergency stop: the printer halted before acknowledging the commands'));
  }
  setSource(src: LineSource | null): void { this.sender.setSource(src); }
  handle(r: Response): void { this.sender.handle(r); }
  /** Forget queued work and stop sending (M112: the firmware is halted). */
  stop(): void { this.sender.stop(); }

  /** Runs commands through the sender in order and resolves when the last is acknowledged. */
  run(cmds: string[], timeoutMs: number): Promise<void> {
    if (!this.open || !cmds.length) return Promise.resolve();
    let last = 0;
    for (const c of cmds) last = this.sender.command(c);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this.waiters.delete(last); reject(new AppError('printer_timeout', 504, `Printer did not acknowledge ${cmds.at(-1)}`)); }, timeoutMs);
      this.waiters.set(last, { done: () => { clearTimeout(t); resolve(); }, fail: (e) => { clearTimeout(t); reject(e); } });
    });
  }

  /** Resolves when nothing is queued or in flight (or after timeoutMs, or when the port goes away). */
  drained(timeoutMs: number): Promise<void> {
    if (!this.open || this.sender.idle) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, timeoutMs);
      function done() { clearTimeout(t); resolve(); }
      this.drainWaiters.push(done);
    });
  }

  /**
   * The board rebooted: its buffers and line numbers are gone, so renumber and stop waiting for drains.
   * Pending run() calls fail now: what they sent will never be acknowledged (a pause would otherwise
   * hang for its whole timeout, and a resume would go on feeding a job the reset has paused).
   */
  afterBoardReset(): void {
    this.sender.stop();
    this.sender.reset();
    this.releaseDrainWaiters();
    this.failWaiters(new AppError('printer_reset', 503, 'The printer restarted before acknowledging the commands'));
  }

  /** The port closed: nothing more is sent or polled; pending run() calls fail. */
  closed(): void {
    this.open = false;
    clearInterval(this.poll);
    this.pollPending = false;
    this.sender.stop();
    this.failWaiters(new AppError('printer_disconnected', 503, 'The printer disconnected before acknowledging the commands'));
  }

  private failWaiters(e: AppError): void {
    const pending = [...this.waiters.values()];
    this.waiters.clear();
    pending.forEach((w) => w.fail(e));
  }

  releaseDrainWaiters(): void { this.drainWaiters.splice(0).forEach((f) => f()); }

  close(): Promise<void> { return this.deps.port.close(); }

  private onAcked(tag: Tag): void {
    if (tag.kind === 'cmd' && tag.id === this.pollId) this.pollPending = false;
    if (tag.kind === 'raw') return;
    if (tag.kind === 'cmd') { const w = this.waiters.get(tag.id); if (w) { this.waiters.delete(tag.id); w.done(); } return; }
    this.deps.onJobAcked(tag.line);
  }

  private onDrained(): void {
    this.releaseDrainWaiters();
    this.deps.onDrained();
  }
}
