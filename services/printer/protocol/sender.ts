/**
 * The sender: numbered, checksummed lines with a send-ahead window and Marlin resend semantics.
 *
 * Window (why it is safe): the firmware holds at most BUFSIZE parsed commands plus RX_BUFFER_SIZE-1
 * raw bytes. Unacknowledged lines beyond the first `slots` must therefore fit into the RX buffer, or
 * bytes are dropped on the floor. `slots` is learned from ADVANCED_OK (`B` + 1 at idle, DESIGN.md);
 * without it we assume only the executing command's slot (1), which is true for every Marlin.
 *
 * Acknowledgement: the firmware answers every command it executes with one `ok`, in order. Unnumbered
 * commands that expect an ok (M108/M410 through the emergency parser, the M105 poll) take their place in
 * the in-flight list too, so their oks never confirm a job line. An `ok T:…` answers an M105: every line
 * sent before that M105 has been executed (Marlin runs its queue in order), even if its own ok was lost.
 *
 * Resend: Marlin flushes its whole RX buffer and answers `Resend: N` + `ok`; every line from N on must
 * be sent again. Lines already on the wire then arrive out of sequence and each produce another
 * `Resend: N` ("Line Number is not Last Line Number+1") — those duplicates are swallowed (budget =
 * lines in flight past N at the rewind). A request after a checksum error may be a real one (the resent line
 * was damaged again) or come from a stale copy still in the firmware's RX buffer; answering it at once
 * would flush the fresh burst (a resend storm), so it is answered when its line has not been confirmed by
 * the ok timeout — never left unanswered — at most maxResends times in a row. Only lines not yet confirmed
 * can be asked for (Marlin asks for its last accepted line + 1): a request for one of the last few confirmed
 * lines means plain oks were duplicated (unconfirm), for an older one that the firmware's numbering was reset
 * behind our back (M110, a reset whose `start` we missed); one for a line never sent is nonsense. The last two
 * stop the sender with an error instead of replaying old lines.
 *
 * Timeout: only an `ok` (or Marlin's `echo:busy:` keepalive) restarts the ok timer — temperature autoreports,
 * which PrintBox turns on (M155), must not hide a lost ok. Then an unnumbered M105 polls (as OctoPrint does);
 * long-running commands wait longer; after maxPolls unanswered polls the sender gives up with an error.
 */
import { EventEmitter } from 'node:events';
import { arg, commandWord } from '../../shared/gcode.ts';
import { numbered } from './gcode.ts';
import { LONG_RUNNING, MAX_WIRE_LINE, SEQUENCE_ERROR, UNCONFIRM_MAX } from './firmware-limits.ts';
import type { Response } from './responses.ts';
import type { Entry, FailureCode, JobLine, LineSource, SenderEvents, SenderOptions, Tag } from './sender-types.ts';

export type { FailureCode, JobLine, LineSource, SenderEvents, SenderFailure, SenderOptions, Tag } from './sender-types.ts';

const cmdOf = (tag: Tag): string => (tag.kind === 'job' ? tag.line.cmd : tag.cmd);

export class Sender extends EventEmitter<SenderEvents> {
  private readonly write: (d: string) => void;
  private readonly okTimeoutMs: number;
  private readonly longOkTimeoutMs: number;
  private readonly maxPolls: number;
  private readonly maxResends: number;
  private readonly rxBytes: number;
  private readonly maxLineBytes: number;
  private slots = 1;
  private resendOk = true;
  private nextN = 1;
  private inflight: Entry[] = [];
  private resendQueue: Entry[] = [];
  private commands: Tag[] = [];
  private source: LineSource | null = null;
  private swallowOks = 0;
  private lastResend = -1;
  private dupBudget = 0;
  private repeat = { n: -1, count: 0 };
  /** A real request swallowed within the duplicate budget: answered at the ok timeout unless confirmed by then. */
  private owed = -1;
  private lineError = '';
  private polls = 0;
  /** The number of the last numbered line an ok confirmed (-1: none since the last renumbering). */
  private lastAckedN = -1;
  /** The last numbered lines an ok confirmed, newest last (see unconfirm). */
  private confirmed: Entry[] = [];
  /** An M110 is in flight: nothing is numbered until the firmware confirmed the new count. */
  private renumbering = false;
  private timer: NodeJS.Timeout | undefined;
  private timerMs = 0;
  private cmdId = 0;
  private pendingJob: Tag | undefined;
  private stopped = false;
  readonly stats = { sent: 0, resent: 0, resendRequests: 0, timeouts: 0 };

  constructor(opts: SenderOptions) {
    super();
    this.write = opts.write;
    this.okTimeoutMs = opts.okTimeoutMs ?? 5000;
    this.longOkTimeoutMs = Math.max(this.okTimeoutMs, opts.longOkTimeoutMs ?? 300_000);
    this.maxPolls = opts.maxPolls ?? 5;
    this.maxResends = opts.maxResends ?? 10;
    this.rxBytes = (opts.rxBytes ?? 128) - 1; // a ring buffer of N bytes holds N-1
    this.maxLineBytes = opts.maxLineBytes ?? MAX_WIRE_LINE;
  }

  /** Starts numbering afresh (`N0 M110 N0`), forgetting everything in flight (after a connect or reset). */
  reset(): void {
    clearTimeout(this.timer); this.timer = undefined;
    this.inflight = []; this.resendQueue = []; this.swallowOks = 0; this.polls = 0;
    this.lastResend = -1; this.dupBudget = 0; this.lastAckedN = -1; this.confirmed = []; this.owed = -1; this.repeat = { n: -1, count: 0 }; this.lineError = ''; this.stopped = false;
    // The probe's unnumbered `M110 N0` left the firmware expecting line 1: a rejected N0 is asked for as 1.
    this.nextN = 1;
    this.sendM110({ kind: 'cmd', cmd: 'M110 N0', id: ++this.cmdId });
  }

  /** Firmware buffer size as learned from ADVANCED_OK. */
  setSlots(n: number): void { this.slots = Math.max(1, n); this.pump(); }
  /** Marlin answers its resend request with an ok too; Smoothieware's `rs N` comes alone (GcodeDispatch.cpp). */
  setResendOk(ok: boolean): void { this.resendOk = ok; }
  get inFlight(): number { return this.inflight.length; }
  /** What the next plain `ok` will acknowledge (undefined while oks of a resend are being swallowed). */
  get nextAck(): Tag | undefined { return this.swallowOks ? undefined : this.inflight[0]?.tag; }
  get idle(): boolean { return !this.pendingJob && !this.inflight.length && !this.resendQueue.length && !this.commands.length && !this.swallowOks; }

  /** Queues a command ahead of the job's next line; returns its id (reported in 'acked'). */
  command(cmd: string): number {
    const tag: Tag = { kind: 'cmd', cmd, id: ++this.cmdId };
    this.commands.push(tag);
    this.pump();
    return tag.id;
  }

  /** Bypasses numbering, the window and the ok accounting (M112, which is never answered). */
  raw(cmd: string): void { this.write(cmd + '\n'); }

  /**
   * Sends an unnumbered command now, past the window (M108/M410 jump the queue with EMERGENCY_PARSER), and
   * expects its ok in order: Marlin's emergency parser acts on it at once but still queues and acknowledges it.
   */
  unnumbered(cmd: string): void {
    if (this.stopped) return;
    this.transmit({ n: -1, wire: cmd + '\n', tag: { kind: 'raw', cmd } });
  }

  /**
   * Emergency stop: M112 raw (EMERGENCY_PARSER acts on it in the serial ISR) and numbered (a firmware
   * without it only obeys a valid numbered line, as OctoPrint sends it too), both now, past the window;
   * then `after` (heaters off) unnumbered, which any firmware still listening accepts whatever its line count.
   */
  emergencyStop(after: string[]): void {
    this.write('M112\n');
    this.write(numbered(this.nextN++, 'M112'));
    this.stop();
    for (const c of after) this.write(c + '\n');
  }

  setSource(src: LineSource | null): void {
    this.source = src;
    if (!src) this.pendingJob = undefined;
    src?.onReady(() => this.pump());
    this.pump();
  }

  /** Port gone: stop timers and forget queued work (the job keeps its own resume point). */
  stop(): void {
    this.stopped = true; this.source = null; this.pendingJob = undefined; this.commands = []; this.resendQueue = []; this.inflight = [];
    this.renumbering = false;
    clearTimeout(this.timer); this.timer = undefined;
  }

  handle(r: Response): void {
    if (this.stopped) return;
    switch (r.type) {
      case 'ok': this.onOk(r); break;
      // Marlin's host keepalive (every 2 s while a command runs, or waits for the user): alive, not lost.
      case 'busy': this.polls = 0; this.armTimer(true); break;
      case 'error': if (!r.fatal) this.lineError = r.message; break;
      case 'resend': this.onResend(r.line); break;
      case 'unknown-command': this.onUnknownCommand(r.command); break;
      case 'wait': if (this.inflight.length) this.poll(); break;
      default: break;
    }
    this.pump();
  }

  private onOk(r: Extract<Response, { type: 'ok' }>): void {
    this.polls = 0;
    if (this.swallowOks > 0) { this.swallowOks--; this.armTimer(true); return; }
    if (this.duplicate(r)) return;
    if (r.buffer !== undefined && r.buffer + 1 > this.slots) this.slots = r.buffer + 1;
    if (!r.temperatures) this.ack();
    else {
      // Only M105 answers `ok T:`; with none in flight it is the second answer to a repeated poll.
      const m105 = this.inflight.findIndex((e) => commandWord(cmdOf(e.tag)) === 'M105');
      for (let i = 0; i <= m105; i++) this.ack();
    }
    this.armTimer(true);
  }

  /**
   * ADVANCED_OK names the line it answers (queue.cpp ok_to_send: `ok N<line>`): a second ok naming the line
   * the previous ok confirmed — a duplicated ok (line noise, a USB-serial bridge
   * repeating a packet). Counting it would confirm the next line before it ran and push the window past the
   * firmware's buffers. Plain oks carry no number and cannot be told apart.
   */
  private duplicate(r: Extract<Response, { type: 'ok' }>): boolean {
    const head = this.inflight[0];
    return r.lastN !== undefined && r.lastN === this.lastAckedN && !!head && head.n >= 0 && head.n !== r.lastN;
  }

  /**
   * After an RX flush the rest of a cut line still arrives — often just its checksum digits — and Marlin runs
   * it as a command: `echo:Unknown command: "24"` and an ok that answers none of our lines. Unknown commands
   * of our own (the line executing now, at the head) are answered by their ok as usual.
   */
  private onUnknownCommand(text: string): void {
    const head = this.inflight[0];
    if (head && cmdOf(head.tag).trim() === text.trim()) return;
    this.swallowOks++;
  }

  private ack(): void {
    const e = this.inflight.shift();
    if (!e) return;
    if (e.n >= 0) { this.lastAckedN = e.n; this.confirmed.push(e); if (this.confirmed.length > UNCONFIRM_MAX) this.confirmed.shift(); }
    if (e.n === this.repeat.n) this.repeat = { n: -1, count: 0 };
    if (e.n === this.owed) this.owed = -1;
    if (commandWord(cmdOf(e.tag)) === 'M110') this.renumbering = false;
    this.emit('acked', e.tag);
    if (this.source === null && this.idle) this.emit('drained');
  }

  private onResend(n: number): void {
    this.stats.resendRequests++;
    if (this.resendOk) this.swallowOks++;
    const real = this.lineError !== '' && !SEQUENCE_ERROR.test(this.lineError);
    this.lineError = '';
    if (n === this.lastResend && this.dupBudget > 0) { this.dupBudget--; if (real) this.owed = n; return; }
    if (this.unconfirm(n)) { this.rewind([...this.inflight, ...this.resendQueue].filter((e) => e.n >= 0), n); return; }
    const pending = [...this.inflight, ...this.resendQueue].filter((e) => e.n >= 0);
    const from = pending.findIndex((e) => e.n === n || e.alias === n);
    if (from < 0) {
      if (n === this.nextN) return; // the next line, not sent yet: it arrives anyway
      const confirmed = pending.length ? n < pending[0]!.n : n < this.nextN;
      return confirmed
        ? this.fail('line_numbering', `The printer asked for line ${n} again, which it had already confirmed: its line numbering was reset (a board reset or M110 PrintBox did not see). Stopped; nothing was resent.`)
        : this.fail('resend_unknown', `The printer asked for line ${n}, which PrintBox never sent (next is ${this.nextN}). Stopped; nothing was resent.`);
    }
    if (real && this.tooManyRepeats(n)) return;
    this.rewind(pending.slice(from), n);
  }

  /**
   * Marlin asks for its last accepted line + 1, so a request for one of the last few lines we counted as
   * confirmed means plain oks were duplicated (they carry no number: duplicate() cannot see them) and
   * confirmed lines the firmware never took. Those go back to pending and are sent again; a request for an
   * older line is a reset numbering, not this.
   */
  private unconfirm(n: number): boolean {
    const at = this.confirmed.findIndex((e) => e.n === n);
    if (at < 0) return false;
    this.inflight.unshift(...this.confirmed.splice(at));
    this.lastAckedN = this.confirmed.at(-1)?.n ?? -1;
    return true;
  }

  /** Counts real requests for the same line (each after a damaged copy of it); true when it gave up. */
  private tooManyRepeats(n: number): boolean {
    this.repeat = this.repeat.n === n ? { n, count: this.repeat.count + 1 } : { n, count: 1 };
    if (this.repeat.count <= this.maxResends) return false;
    this.fail('resend_limit', `The printer rejected line ${n} ${this.repeat.count} times in a row (Resend: ${n}): the serial connection is too noisy. Stopped.`);
    return true;
  }

  /** Every line from the requested one on goes again; unnumbered entries keep their place in the ok order. */
  private rewind(again: Entry[], n: number): void {
    this.emit('resend', n);
    this.lastResend = n;
    this.dupBudget = again.length - 1;
    this.owed = -1;
    this.inflight = this.inflight.filter((e) => !again.includes(e));
    this.resendQueue = again;
  }

  private fail(code: FailureCode, message: string): void {
    this.stop();
    this.emit('failed', { code, message });
  }

  private poll(): void {
    this.polls++;
    this.stats.timeouts++;
    this.emit('timeout');
    // A poll still last in line is repeated, not queued twice: one entry, and a second answer finds no M105.
    const last = this.inflight.at(-1);
    if (last?.tag.kind === 'raw' && last.tag.cmd === 'M105') this.write(last.wire);
    else this.unnumbered('M105');
  }

  private onTimeout(): void {
    if (this.owed >= 0) return this.answerOwed();
    if (this.polls >= this.maxPolls) {
      return this.fail('no_response', `The printer stopped acknowledging commands: no ok after ${this.polls} polls (M105).`);
    }
    this.poll();
    this.armTimer(true);
  }

  /** The swallowed request's line was not confirmed in time: it was real, resend from it now. */
  private answerOwed(): void {
    const n = this.owed;
    const pending = [...this.inflight, ...this.resendQueue].filter((e) => e.n >= 0);
    const from = pending.findIndex((e) => e.n === n);
    this.owed = -1;
    if (from >= 0 && !this.tooManyRepeats(n)) this.rewind(pending.slice(from), n);
    this.armTimer(true);
    this.pump();
  }

  /** Runs while anything awaits an ok; `restart` only on an ok or busy keepalive (never on chatter). */
  private armTimer(restart: boolean): void {
    if (this.stopped || (!this.inflight.length && !this.swallowOks)) { clearTimeout(this.timer); this.timer = undefined; return; }
    if (this.timer && !restart) return;
    const head = this.inflight[0];
    const ms = head && LONG_RUNNING.has(commandWord(cmdOf(head.tag))) ? this.longOkTimeoutMs : this.okTimeoutMs;
    // Restarted on every ok: re-arm the running timer instead of allocating one per line.
    if (this.timer && ms === this.timerMs) { this.timer.refresh(); return; }
    clearTimeout(this.timer);
    this.timerMs = ms;
    this.timer = setTimeout(() => { this.timer = undefined; this.onTimeout(); }, ms);
  }

  private fits(bytes: number): boolean {
    if (this.inflight.length < this.slots) return true;
    let used = bytes;
    for (let i = this.slots; i < this.inflight.length; i++) used += this.inflight[i]!.wire.length;
    return used <= this.rxBytes;
  }

  /** Sends as much as the window allows: resends first, then commands, then job lines. */
  pump(): void {
    while (!this.stopped) {
      const again = this.resendQueue[0];
      if (again) {
        if (!this.fits(again.wire.length)) break;
        this.resendQueue.shift(); this.stats.resent++;
        this.transmit(again);
        continue;
      }
      if (this.renumbering) break;
      const tag = this.nextTag();
      if (!tag) break;
      if (commandWord(cmdOf(tag)) === 'M110') {
        // Marlin checks each line against the count when it is parsed but M110 sets it when executed:
        // lines after it must wait for its ok, and it for the lines before it (resends use the old count).
        if (this.inflight.length) break;
        this.take(tag);
        this.sendM110(tag);
        continue;
      }
      const wire = numbered(this.nextN, cmdOf(tag));
      if (tag.kind === 'job' && wire.length > this.maxLineBytes) { this.refuse(tag.line, wire.length); break; }
      if (!this.fits(wire.length)) break;
      this.take(tag);
      this.transmit({ n: this.nextN++, wire, tag });
    }
  }

  /** The next command, else the next job line (held in pendingJob, not lost, while the window is full). */
  private nextTag(): Tag | undefined {
    const tag = this.commands[0] ?? this.pendingJob;
    if (tag || !this.source) return tag;
    const line = this.source.next();
    if (line === 'wait') return undefined;
    if (line === null) { this.source = null; if (this.idle) this.emit('drained'); return undefined; }
    this.pendingJob = { kind: 'job', line };
    return this.pendingJob;
  }

  private refuse(line: JobLine, bytes: number): void {
    this.source = null; this.pendingJob = undefined;
    this.emit('refused', line, `Command ${line.index + 1} of the file is ${bytes} bytes long once numbered ("${line.cmd.slice(0, 40)}…"); the printer's firmware reads at most ${this.maxLineBytes} per line and would reject it again and again. It was not sent.`);
  }

  private take(tag: Tag): void { if (tag.kind === 'job') this.pendingJob = undefined; else this.commands.shift(); }

  /** `N<k> M110 N<k>`: the same count at parse and at execution time; from here on lines count from k+1. */
  private sendM110(tag: Tag): void {
    const k = arg(cmdOf(tag), 'N') ?? this.nextN;
    const e: Entry = { n: k, wire: numbered(k, `M110 N${k}`), tag, alias: this.nextN };
    this.nextN = k + 1;
    this.renumbering = true;
    this.confirmed = []; // numbers before the M110 may come again
    this.transmit(e);
  }

  private transmit(e: Entry): void {
    this.inflight.push(e);
    this.stats.sent++;
    this.write(e.wire);
    this.armTimer(false);
  }
}
