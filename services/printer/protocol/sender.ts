/**
 * The sender: numbered, checksummed lines with a send-ahead window and Marlin resend semantics.
 *
 * Window (why it is safe): the firmware holds at most BUFSIZE parsed commands plus RX_BUFFER_SIZE-1
 * raw bytes. Unacknowledged lines beyond the first `slots` must therefore fit into the RX buffer, or
 * bytes are dropped on the floor. `slots` is learned from ADVANCED_OK (`B` + 1 at idle, DESIGN.md);
 * without it we assume only the executing command's slot (1), which is true for every Marlin.
 *
 * Resend: Marlin flushes its whole RX buffer and answers `Resend: N` + `ok`; every line from N on must
 * be sent again. Lines already on the wire then arrive out of sequence and each produce another
 * `Resend: N` — those duplicates are swallowed (budget = lines in flight past N at the rewind).
 *
 * Timeout: when lines are in flight and the firmware says nothing for okTimeoutMs (a lost `ok`),
 * we poke with an unnumbered M105 whose `ok` settles the missing one (OctoPrint does the same).
 */
import { EventEmitter } from 'node:events';
import { numbered } from './gcode.ts';
import type { Response } from './responses.ts';

export interface JobLine { cmd: string; index: number; byteEnd: number }
/** Job lines pulled synchronously; 'wait' = not read from disk yet (call onReady), null = end of file. */
export interface LineSource { next(): JobLine | 'wait' | null; onReady(fn: () => void): void }

export type Tag = { kind: 'job'; line: JobLine } | { kind: 'cmd'; cmd: string; id: number };
interface Entry { n: number; wire: string; tag: Tag }

export interface SenderOptions {
  write: (data: string) => void;
  okTimeoutMs?: number;
  rxBytes?: number;
}

export interface SenderEvents {
  acked: [Tag];
  drained: [];
  timeout: [];
  resend: [number];
}

export class Sender extends EventEmitter<SenderEvents> {
  private readonly write: (d: string) => void;
  private readonly okTimeoutMs: number;
  private readonly rxBytes: number;
  private slots = 1;
  private nextN = 1;
  private inflight: Entry[] = [];
  private history = new Map<number, Entry>();
  private resendQueue: Entry[] = [];
  private commands: Tag[] = [];
  private source: LineSource | null = null;
  private swallowOks = 0;
  private lastResend = -1;
  private dupBudget = 0;
  private timer: NodeJS.Timeout | undefined;
  private cmdId = 0;
  private pendingJob: Tag | undefined;
  private stopped = false;
  readonly stats = { sent: 0, resent: 0, resendRequests: 0, timeouts: 0 };

  constructor(opts: SenderOptions) {
    super();
    this.write = opts.write;
    this.okTimeoutMs = opts.okTimeoutMs ?? 5000;
    this.rxBytes = (opts.rxBytes ?? 128) - 1; // a ring buffer of N bytes holds N-1
  }

  /** Starts numbering afresh (`N0 M110 N0`), forgetting everything in flight (after a connect or reset). */
  reset(): void {
    this.inflight = []; this.history.clear(); this.resendQueue = []; this.swallowOks = 0;
    this.lastResend = -1; this.dupBudget = 0; this.stopped = false;
    const entry: Entry = { n: 0, wire: numbered(0, 'M110 N0'), tag: { kind: 'cmd', cmd: 'M110 N0', id: ++this.cmdId } };
    this.nextN = 1;
    this.history.set(0, entry);
    this.transmit(entry);
  }

  /** Firmware buffer size as learned from ADVANCED_OK. */
  setSlots(n: number): void { this.slots = Math.max(1, n); this.pump(); }
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

  /** Bypasses numbering and the window (M112/M108/M410 with EMERGENCY_PARSER, timeout pokes). */
  raw(cmd: string): void { this.write(cmd + '\n'); }

  setSource(src: LineSource | null): void {
    this.source = src;
    if (!src) this.pendingJob = undefined;
    src?.onReady(() => this.pump());
    this.pump();
  }

  /** Port gone: stop timers and forget queued work (the job keeps its own resume point). */
  stop(): void {
    this.stopped = true; this.source = null; this.commands = []; this.resendQueue = []; this.inflight = [];
    clearTimeout(this.timer);
  }

  handle(r: Response): void {
    if (this.stopped) return;
    this.armTimer();
    switch (r.type) {
      case 'ok':
        if (this.swallowOks > 0) { this.swallowOks--; break; }
        if (r.buffer !== undefined && r.buffer + 1 > this.slots) this.slots = r.buffer + 1;
        this.ack();
        break;
      case 'resend': this.onResend(r.line); break;
      case 'wait': if (this.inflight.length) this.poke(); break;
      default: break;
    }
    this.pump();
  }

  private ack(): void {
    const e = this.inflight.shift();
    if (!e) return;
    this.emit('acked', e.tag);
    if (this.source === null && this.idle) this.emit('drained');
  }

  private onResend(n: number): void {
    this.stats.resendRequests++;
    this.swallowOks++;
    if (n === this.lastResend && this.dupBudget > 0) { this.dupBudget--; return; }
    const again: Entry[] = [];
    for (let i = n; i < this.nextN; i++) { const e = this.history.get(i); if (e) again.push(e); }
    if (!again.length && n !== this.nextN) return; // asks for a line we never sent or forgot: nothing sane to do
    this.emit('resend', n);
    this.lastResend = n;
    this.dupBudget = Math.max(0, this.nextN - 1 - n);
    this.inflight = this.inflight.filter((e) => e.n < n);
    // Lines already queued for a resend that are ≥ n are superseded by this (complete) list.
    this.resendQueue = again;
  }

  private poke(): void {
    this.stats.timeouts++;
    this.emit('timeout');
    this.write('M105\n');
  }

  private armTimer(): void {
    clearTimeout(this.timer);
    if (this.stopped || (!this.inflight.length && !this.swallowOks)) return;
    this.timer = setTimeout(() => { this.poke(); this.armTimer(); }, this.okTimeoutMs);
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
      let tag: Tag | undefined = this.commands[0] ?? this.pendingJob;
      if (!tag) {
        if (!this.source) break;
        const line = this.source.next();
        if (line === 'wait') break;
        if (line === null) { this.source = null; if (this.idle) this.emit('drained'); break; }
        // Held here, not lost, if the window is full right now.
        tag = { kind: 'job', line };
        this.pendingJob = tag;
      }
      const cmd = tag.kind === 'job' ? tag.line.cmd : tag.cmd;
      const wire = numbered(this.nextN, cmd);
      if (!this.fits(wire.length)) break;
      if (tag.kind === 'cmd') this.commands.shift(); else this.pendingJob = undefined;
      const e: Entry = { n: this.nextN++, wire, tag };
      this.history.set(e.n, e);
      this.history.delete(e.n - 1024); // enough for any resend: far more than can be in flight
      this.transmit(e);
    }
  }

  private transmit(e: Entry): void {
    this.inflight.push(e);
    this.stats.sent++;
    this.write(e.wire);
    this.armTimer();
  }
}
