/**
 * An independent firmware model for tests, written from Marlin 2.1.x's source (not from PrintBox's sender or
 * its own simulator, services/printer/virtual/simulator.ts), so the two can disagree:
 * - serial-in.ts: the RX ring and queue.cpp's line checks.
 * - Command queue of BUFSIZE slots (queue.h); queue.cpp advance() → gcode.cpp process_next_command; the slot
 *   is freed only after the command ran, and ok_to_send() answers it then — for a move, once it entered the
 *   planner. ADVANCED_OK: `ok N<line> P<planner free> B<BUFSIZE - queued>`.
 * - gcode.cpp host_keepalive: `echo:busy: processing` every DEFAULT_KEEPALIVE_INTERVAL (2 s) while a command
 *   (G28, M109, M190, a long G4) runs. queue.cpp NO_TIMEOUTS: `wait` while idle.
 * - M110 (gcode/host/M110.cpp) sets the line count when it runs; M112 and thermal faults call kill().
 * - `Unknown command` (gcode.cpp unknown_command_warning): `echo:Unknown command: "<cmd>"` and its ok.
 * Faults: a corrupted or dropped byte in a line, a dropped or duplicated ok, a late `start` after a reset.
 */
import { Rng } from './rng.ts';
import { SerialIn } from './serial-in.ts';
import { marlin2, type Flavour, type Heaters } from './flavours.ts';

export interface ModelOptions {
  flavour: Flavour;
  bufsize: number;
  rxSize: number;
  /** Time each command takes until it is planned and acknowledged. */
  latencyMs: number;
  /** How long G28 takes; M109/M190 take as long as heating does (heatPerS). */
  homeMs: number;
  heatPerS: number;
  keepaliveMs: number;
  advancedOk: boolean;
  autoreport: boolean;
  /** queue.cpp NO_TIMEOUTS: `wait` after this much idle time (0 = off, Marlin's default). */
  noTimeoutsMs: number;
  /** After a reset the bootloader runs this long (input is lost) before `start`. */
  bootMs: number;
  seed: number;
  /** Per numbered line / per ok probabilities of each fault class. */
  faults: Partial<Record<FaultKind, number>>;
}

export type FaultKind = 'corruptByte' | 'dropByte' | 'dropOk' | 'duplicateOk';

const PLANNER = 16;
const KNOWN = /^(G0|G1|G4|G28|G90|G91|G92|M17|M82|M83|M84|M104|M105|M106|M107|M108|M109|M110|M112|M114|M115|M117|M140|M155|M190|M400|M410|M486|T0)$/;

export class MarlinModel {
  readonly opts: ModelOptions;
  /** Every command as it entered the planner (N and checksum stripped), in order. */
  readonly executed: string[] = [];
  /** The conversation: `> ` host lines as the firmware read them, `< ` firmware lines. */
  readonly transcript: string[] = [];
  readonly stats = { lineErrors: 0, corruptByte: 0, dropByte: 0, dropOk: 0, duplicateOk: 0, resets: 0 };
  halted = false;
  private readonly rx: SerialIn;
  private readonly rng: Rng;
  private queue: string[] = [];
  private running = false;
  private booting = false;
  private generation = 0;
  private heaters: Heaters = { T: { actual: 22, target: 0 }, B: { actual: 22, target: 0 } };
  private timers = new Set<NodeJS.Timeout>();
  private autoreport: NodeJS.Timeout | undefined;
  private idleSince = Date.now();
  private readonly idleTick: NodeJS.Timeout;
  private oneShot: Array<{ kind: FaultKind; match: (cmd: string) => boolean }> = [];

  constructor(opts: Partial<ModelOptions>, private readonly send: (data: string) => void) {
    this.opts = {
      flavour: marlin2, bufsize: 4, rxSize: 128, latencyMs: 1, homeMs: 1500, heatPerS: 200, keepaliveMs: 2000,
      advancedOk: false, autoreport: true, noTimeoutsMs: 0, bootMs: 0, seed: 1, faults: {}, ...opts,
    };
    this.rx = new SerialIn(this.opts.rxSize);
    this.rng = new Rng(this.opts.seed);
    this.idleTick = setInterval(() => this.idleWait(), 50);
    this.idleTick.unref();
  }

  get lastN(): number { return this.rx.lastN; }
  get droppedBytes(): number { return this.rx.dropped; }

  /** One-shot fault on the next command whose text matches. */
  inject(kind: FaultKind, match: (cmd: string) => boolean): void { this.oneShot.push({ kind, match }); }

  /** Power-up or DTR: everything is forgotten; `start` comes after the bootloader (bootMs). */
  reset(): void {
    this.generation++;
    this.stats.resets++;
    this.clearTimers();
    clearInterval(this.autoreport); this.autoreport = undefined;
    this.rx.clear(); this.queue = []; this.running = false; this.halted = false;
    this.heaters.T.target = 0; this.heaters.B.target = 0;
    this.booting = true;
    this.later(this.opts.bootMs, () => { this.booting = false; this.opts.flavour.banner.forEach((l) => this.say(l)); this.idleSince = Date.now(); this.loop(); });
  }

  /** Bytes from the host, one at a time through the RX ISR; the main loop drains the ring in between. */
  receive(data: Buffer): void {
    if (this.booting) return; // the bootloader is listening, not Marlin
    for (const b of data) { this.rx.store(b); if (b === 10 || b === 13) this.read(); }
    this.loop();
  }

  /** The firmware prints a line of its own (a scripted report). */
  say(line: string): void {
    this.transcript.push(`< ${line}`);
    this.send(line + '\n');
  }

  /** A thermal fault: `Error:<why>` and kill(): heaters off, nothing is read any more. */
  kill(why?: string): void {
    if (why) this.say(`Error:${why}`);
    this.say(this.opts.flavour.killed);
    this.halted = true;
    this.heaters.T.target = 0; this.heaters.B.target = 0;
    this.clearTimers();
  }

  private clearTimers(): void { for (const t of this.timers) { clearTimeout(t); clearInterval(t); } this.timers.clear(); }

  close(): void {
    this.generation++;
    this.clearTimers();
    clearInterval(this.autoreport); clearInterval(this.idleTick);
  }

  private read(): void {
    if (this.halted) { this.rx.read(() => true, (l) => this.transcript.push(`> ${l}`), () => undefined); return; }
    this.rx.read(() => this.queue.length < this.opts.bufsize, (line) => this.enqueue(line), (why) => this.lineError(why), (l) => this.lineFault(l));
  }

  private enqueue(line: string): void {
    this.transcript.push(`> ${line}`);
    this.queue.push(line);
    const echo = this.opts.flavour.enqueueEcho;
    if (echo) this.say(echo(strip(line)));
  }

  private lineError(why: string): void {
    this.stats.lineErrors++;
    if (this.opts.flavour.errorLine) this.say(`Error:${why}`);
    this.opts.flavour.resend(this.rx.lastN + 1).forEach((l) => this.say(l));
  }

  /** Line noise: one byte of a numbered line flipped or lost on the wire. */
  private lineFault(line: string): string {
    if (!line.startsWith('N')) return line;
    const kind = this.fault(['corruptByte', 'dropByte'], strip(line));
    if (!kind) return line;
    this.stats[kind]++;
    const at = 1 + Math.floor(this.rng.next() * (line.length - 1));
    return kind === 'dropByte' ? line.slice(0, at) + line.slice(at + 1)
      : line.slice(0, at) + String.fromCharCode(line.charCodeAt(at) ^ 0x04) + line.slice(at + 1);
  }

  private fault(kinds: FaultKind[], cmd: string): FaultKind | undefined {
    const i = this.oneShot.findIndex((f) => kinds.includes(f.kind) && f.match(cmd));
    if (i >= 0) return this.oneShot.splice(i, 1)[0]!.kind;
    return kinds.find((k) => (this.opts.faults[k] ?? 0) > 0 && this.rng.next() < this.opts.faults[k]!);
  }

  /** queue.advance(): run the oldest command; its slot is freed (and input read again) after it ran. */
  private loop(): void {
    if (this.running || this.booting || this.halted) return;
    this.read();
    const line = this.queue[0];
    if (line === undefined) return;
    this.running = true;
    const cmd = strip(line);
    const ms = this.duration(cmd);
    const keepalive = ms > this.opts.keepaliveMs ? setInterval(() => this.say('echo:busy: processing'), this.opts.keepaliveMs) : undefined;
    const heating = this.opts.flavour.heatingReport && /^M1[09]9\b/.test(cmd) ? setInterval(() => this.say(this.opts.flavour.heatingReport!(this.heaters)), 1000) : undefined;
    for (const t of [keepalive, heating]) if (t) this.timers.add(t);
    this.later(this.opts.latencyMs + ms, () => {
      for (const t of [keepalive, heating]) if (t) { clearInterval(t); this.timers.delete(t); }
      // ok_to_send() runs inside process_next_command, before advance_pos frees the slot: B counts it.
      this.execute(line, cmd);
      this.queue.shift();
      this.running = false;
      this.idleSince = Date.now();
      this.loop();
    });
  }

  private duration(cmd: string): number {
    const word = cmd.split(/\s/)[0]!;
    if (word === 'G28') return this.opts.homeMs;
    if (word === 'G4') return arg(cmd, 'P') ?? (arg(cmd, 'S') ?? 0) * 1000;
    if (word === 'M109' || word === 'M190') {
      const h = word === 'M109' ? this.heaters.T : this.heaters.B;
      const target = arg(cmd, 'S') ?? arg(cmd, 'R') ?? h.target;
      return (Math.abs(target - h.actual) / this.opts.heatPerS) * 1000;
    }
    return 0;
  }

  private execute(line: string, cmd: string): void {
    const word = cmd.split(/\s/)[0]!;
    this.executed.push(cmd);
    if (!KNOWN.test(word)) { this.say(`echo:Unknown command: "${cmd}"`); return this.ok(line); }
    switch (word) {
      case 'M110': { const n = arg(cmd, 'N'); if (n !== undefined) this.rx.lastN = n; break; }
      case 'M112': return this.kill();
      case 'M104': case 'M109': this.heaters.T.target = arg(cmd, 'S') ?? 0; if (word === 'M109') this.heaters.T.actual = this.heaters.T.target; break;
      case 'M140': case 'M190': this.heaters.B.target = arg(cmd, 'S') ?? 0; if (word === 'M190') this.heaters.B.actual = this.heaters.B.target; break;
      case 'M105': return this.okWith(this.opts.flavour.m105(this.heaters)); // M105 prints its own ok (gcode.cpp: "ok" already printed)
      case 'M115': this.opts.flavour.m115({ advancedOk: this.opts.advancedOk, autoreport: this.opts.autoreport }).forEach((l) => this.say(l)); break;
      case 'M155': this.autoreportEvery(arg(cmd, 'S') ?? 0); break;
      default: break;
    }
    this.ok(line);
  }

  /** ok_to_send(), ADVANCED_OK taking N from the command buffer as received. */
  private ok(line: string): void {
    let text = 'ok';
    if (this.opts.advancedOk) {
      const n = /^N(-?\d+)/.exec(line);
      text += `${n ? ` N${n[1]}` : ''} P${PLANNER - 1} B${this.opts.bufsize - this.queue.length}`;
    }
    this.okWith(text);
  }

  private okWith(text: string): void {
    const kind = this.fault(['dropOk', 'duplicateOk'], text);
    if (kind) this.stats[kind]++;
    if (kind === 'dropOk') { this.transcript.push(`< (lost) ${text}`); return; }
    this.say(text);
    if (kind === 'duplicateOk') this.say(text);
  }

  private autoreportEvery(s: number): void {
    clearInterval(this.autoreport); this.autoreport = undefined;
    if (!s || !this.opts.autoreport) return;
    this.autoreport = setInterval(() => { if (!this.halted) this.say(` ${this.opts.flavour.m105(this.heaters).slice(3)}`); }, s * 1000);
    this.autoreport.unref();
  }

  private idleWait(): void {
    const quiet = this.opts.noTimeoutsMs;
    if (!quiet || this.booting || this.halted || this.running || this.queue.length || this.rx.available) return;
    if (Date.now() - this.idleSince >= quiet) { this.idleSince = Date.now(); this.say('wait'); }
  }

  /** Timers (and the keepalive/heating intervals, in the same set) die with a reset or kill(). */
  private later(ms: number, fn: () => void): void {
    const gen = this.generation;
    const t = setTimeout(() => { this.timers.delete(t); if (gen === this.generation && !this.halted) fn(); }, ms);
    this.timers.add(t);
  }
}

/** The command as GCodeParser::parse sees it: without `N<n> ` in front and `*<cs>` behind. */
export function strip(line: string): string {
  const star = line.lastIndexOf('*');
  const body = (star >= 0 && /^ *N/.test(line) ? line.slice(0, star) : line).trim();
  return body.replace(/^N-?\d+\s*/, '').trim();
}

/** parser.seenval(letter) ? parser.value_float() : undefined */
function arg(cmd: string, letter: string): number | undefined {
  const m = new RegExp(`\\s${letter}(-?\\d+(?:\\.\\d+)?)`).exec(cmd);
  return m ? Number(m[1]) : undefined;
}
