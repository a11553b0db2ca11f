/**
 * A Marlin simulator (DESIGN.md "Protocol facts"): the firmware side of the virtual printer.
 * Bytes from the host are delivered at the configured baud rate (10 bits/byte) into an RX ring
 * buffer of rxSize bytes — overflow drops bytes like the real UART ISR. Complete lines move into a
 * command queue of `bufsize` slots only while a slot is free. Each command takes processMs; its reply
 * leaves latencyMs later (the USB-serial latency timer: FTDI defaults to 16 ms) and also crosses the
 * wire at the baud rate. Faults can be injected: checksum errors, lost oks, halts, unplug (see VirtualPrinter).
 */
import { arg, commandWord } from '../../shared/gcode.ts';
import { parseNumbered } from '../protocol/gcode.ts';
import { HostActionSim } from './host-actions-sim.ts';

export interface SimOptions {
  baud: number;            // 0 = no throttling
  latencyMs: number;
  processMs: number;
  bufsize: number;
  rxSize: number;
  advancedOk: boolean;
  autoreportTemp: boolean;
  emergencyParser: boolean;
  errorRate: number;       // fraction of numbered lines answered with a checksum error
  lostOkRate: number;      // fraction of oks never sent
  heatRatePerS: number;    // °C per second toward the target
  name: string;
  seed: number;
  /** Record every executed command text (tests check order). */
  record: boolean;
  /** Autoreport interval in ms instead of M155's S seconds (a chatty firmware). */
  autoreportMs?: number;
  /** Boot time after a reset: input is dropped and `start` comes this late (slow bootloaders). */
  bootMs?: number;
  /** The board halts right after every boot with this error (a MINTEMP/thermal fault that persists). */
  bootError?: string;
  /** A heated chamber: reported as C: and set by M141 (Marlin's HEATED_CHAMBER). */
  chamber?: boolean;
  /** Marlin's HOST_ACTION_COMMANDS / HOST_PROMPT_SUPPORT (host-actions-sim.ts): M600, M0/M1, M25, M876 and `//action:` lines. */
  hostActions?: boolean;
  promptSupport?: boolean;
  /** The PAUSED_FOR_USER keepalive interval (Marlin: 2000 ms). */
  keepaliveMs?: number;
}

export const defaultSimOptions: SimOptions = {
  baud: 115200, latencyMs: 2, processMs: 0, bufsize: 4, rxSize: 128, advancedOk: true, autoreportTemp: true,
  emergencyParser: true, errorRate: 0, lostOkRate: 0, heatRatePerS: 50, name: 'PrintBox Virtual', seed: 1, record: false,
};

const SLACK_MS = 0.5;

interface Heater { actual: number; target: number }

export class MarlinSimulator {
  readonly opts: SimOptions;
  readonly executed: string[] = [];
  /** With `record`: every line as it reached the firmware's parser, accepted or not (halted boards included). */
  readonly received: string[] = [];
  /** With `record`: every byte the host wrote, as text (what reached the wire, before any RX overflow). */
  wire = '';
  readonly stats = { lines: 0, injectedErrors: 0, lostOks: 0, overflowBytes: 0, lineErrors: 0 };
  private wireIn: number[] = [];
  private wireClock = 0;
  private rx: number[] = [];
  private partial = '';
  private queue: string[] = [];
  private busy = false;
  private lastN = 0;
  private halted = false;
  private out: Array<{ at: number; line: string }> = [];
  private outClock = 0;
  private timer: NodeJS.Timeout | undefined;
  private tempTimer: NodeJS.Timeout;
  private autoreport: NodeJS.Timeout | undefined;
  private heaters: Record<'T0' | 'B' | 'C', Heater> = { T0: { actual: 21, target: 0 }, B: { actual: 21, target: 0 }, C: { actual: 21, target: 0 } };
  private pos = { X: 0, Y: 0, Z: 0, E: 0 };
  private relative = false;
  private rand: () => number;
  private waitingHeat: (() => void) | null = null;
  private resetTrap: { match: (cmd: string) => boolean; afterExecuting: boolean } | undefined;
  private stallTrap: ((cmd: string) => boolean) | undefined;
  private loseOkTrap: ((cmd: string) => boolean) | undefined;
  private haltTrap: { match: (cmd: string) => boolean; reason: string } | undefined;
  private bootUntil = 0;
  /**
   * Where the head really is, unlike the firmware's idea of it: G92 does not move it and a reset does not
   * forget it; G28 zeroes only the axes it homes. minZ is the lowest Z since a test last set it (a recovery
   * that drives the nozzle into the print shows up here). Fault-injection tests check resumes against it.
   */
  readonly physical = { X: 0, Y: 0, Z: 0, minZ: Infinity };
  /** Host actions, prompts and waits for the user; tests also call its menu*() and notify() (the printer's own buttons). */
  readonly host: HostActionSim;

  constructor(opts: Partial<SimOptions>, private readonly send: (data: string) => void) {
    this.opts = { ...defaultSimOptions, ...opts };
    let s = this.opts.seed >>> 0 || 1;
    this.rand = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 0x100000000; };
    this.tempTimer = setInterval(() => this.heat(0.1), 100);
    this.tempTimer.unref();
    this.host = new HostActionSim({ hostActions: !!this.opts.hostActions, promptSupport: !!this.opts.promptSupport, keepaliveMs: this.opts.keepaliveMs ?? 2000 }, (l) => this.reply(l));
  }

  /** Board reset (power-up or DTR): buffers cleared, line numbers forgotten. */
  reset(opts: { garbage?: string } = {}): void {
    this.wireIn = []; this.rx = []; this.partial = ''; this.queue = []; this.busy = false; this.lastN = 0;
    this.halted = false; this.out = []; clearInterval(this.autoreport); this.autoreport = undefined;
    for (const h of Object.values(this.heaters)) h.target = 0;
    this.waitingHeat = null;
    this.host.reset(); this.epLine = '';
    // A reset board boots absolute and unhomed at 0,0,0 while the head physically stays where it was.
    this.relative = false; this.pos = { X: 0, Y: 0, Z: 0, E: 0 };
    const boot = () => {
      // `garbage`: line noise in front of `start` (a reset the host cannot recognise).
      this.reply(`${opts.garbage ?? ''}start`);
      this.reply(`echo:Marlin 2.1.2 ${this.opts.name}`);
      if (this.opts.bootError) this.kill(this.opts.bootError);
    };
    this.bootUntil = performance.now() + (this.opts.bootMs ?? 0);
    if (this.opts.bootMs) setTimeout(boot, this.opts.bootMs).unref(); else boot();
  }

  /** Fault injection: the `ok` of the next command matching `match` is lost on the wire. One-shot. */
  loseOkAt(match: (cmd: string) => boolean): void { this.loseOkTrap = match; }

  /** Fault injection: after the next command matching `match` is executed and acknowledged, the firmware halts. One-shot. */
  haltAt(match: (cmd: string) => boolean, reason = 'Thermal Runaway, system stopped! Heater_ID: 0'): void { this.haltTrap = { match, reason }; }

  /** Fault injection: the firmware prints `line` (a scripted transcript line: an error, a report). */
  say(line: string): void { this.reply(line); }

  /**
   * Fault injection: the board reboots (watchdog, brown-out) at the next command matching `match` — before
   * executing it, or right after executing it so its `ok` never leaves (the host cannot tell which). One-shot.
   */
  resetAt(match: (cmd: string) => boolean, opts: { afterExecuting?: boolean } = {}): void {
    this.resetTrap = { match, afterExecuting: !!opts.afterExecuting };
  }

  /** Fault injection: the next command matching `match` never completes (a move stuck in the planner) — until a reset. One-shot. */
  stallAt(match: (cmd: string) => boolean): void { this.stallTrap = match; }

  close(): void { clearTimeout(this.timer); clearInterval(this.tempTimer); clearInterval(this.autoreport); this.host.close(); }

  /** Bytes written by the host (they are "on the wire" from now on). */
  receive(data: Buffer): void {
    const now = performance.now();
    if (this.wireIn.length === 0) this.wireClock = Math.max(this.wireClock, now);
    for (const b of data) this.wireIn.push(b);
    if (this.opts.record) this.wire += data.toString('latin1');
    this.schedule(0);
  }

  private byteMs(): number { return this.opts.baud ? 10_000 / this.opts.baud : 0; }

  private timerAt = Infinity;
  /**
   * One timer, always at the earliest pending event. libuv timers tick in whole milliseconds and fire late,
   * never early, which added ~1.7 ms to every 15 ms round trip (measured); events due within SLACK_MS of now
   * are therefore handled now, so the simulated latency is centred on the configured one instead of above it.
   */
  private schedule(ms: number): void {
    const at = performance.now() + ms;
    if (this.timer && this.timerAt <= at) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => { this.timer = undefined; this.timerAt = Infinity; this.pump(); }, ms);
  }

  private pump(): void {
    const now = performance.now();
    const due = now + SLACK_MS;
    const bt = this.byteMs();
    // 1. Wire → RX ring buffer (emergency parser sees bytes as they arrive, like Marlin's ISR).
    let delivered = 0;
    while (delivered < this.wireIn.length && (bt === 0 || this.wireClock + bt <= due)) {
      const b = this.wireIn[delivered++]!;
      this.wireClock += bt;
      // Marlin's serial ISR feeds every byte to the emergency parser, stored or dropped (MarlinSerial store_rxd_char).
      if (this.opts.emergencyParser) this.emergencyByte(b);
      if (this.rx.length >= this.opts.rxSize - 1) { this.stats.overflowBytes++; continue; }
      this.rx.push(b);
      // The firmware drains RX between bytes; a late timer must not turn into a fake overflow.
      if (b === 10) this.fillQueue();
    }
    this.wireIn.splice(0, delivered);
    if (!this.wireIn.length && bt) this.wireClock = Math.max(this.wireClock, now);
    // 2. RX → command queue while a slot is free.
    this.fillQueue();
    // 3. Execute.
    if (!this.busy && this.queue.length && !this.halted) this.execute();
    // 4. Replies whose latency has elapsed go onto the wire.
    while (this.out.length && this.out[0]!.at <= due) {
      const { line } = this.out.shift()!;
      this.outClock = Math.max(this.outClock, now) + (line.length + 1) * bt;
      this.send(line + '\n');
    }
    const next = Math.min(
      this.wireIn.length ? this.wireClock + bt - now : Infinity,
      this.out.length ? this.out[0]!.at - now : Infinity,
    );
    if (next !== Infinity) this.schedule(Math.max(0, next - SLACK_MS));
  }

  private fillQueue(): void {
    while (this.queue.length < this.opts.bufsize && this.rx.length) {
      const nl = this.rx.indexOf(10);
      if (nl < 0) break;
      const line = Buffer.from(this.rx.splice(0, nl + 1)).toString('latin1').trim();
      if (line) this.accept(line);
    }
  }

  private epLine = '';
  private emergencyByte(b: number): void {
    if (b !== 10) { this.epLine = (this.epLine + String.fromCharCode(b)).slice(-24); return; }
    const tail = this.epLine + '\n';
    this.epLine = '';
    const m = /(?:^|[\s\n])(?:N\d+ )?(M112|M108|M410|M876)\b([^\n]*)\n$/.exec(tail);
    if (!m) return;
    if (m[1] === 'M112') this.kill('Printer halted. kill() called!');
    if (m[1] === 'M108') { this.waitingHeat?.(); this.host.userContinue(); }
    // Marlin's e_parser takes M876 S<n> only (feature/e_parser.h), as it arrives.
    const s = m[1] === 'M876' ? /^\s*S(\d+)/.exec(m[2]!) : null;
    if (s) this.host.respond(Number(s[1]));
  }

  private reply(line: string): void {
    this.out.push({ at: performance.now() + this.opts.latencyMs, line });
    this.schedule(this.opts.latencyMs);
  }

  private requestResend(reason: string): void {
    this.rx = []; // Marlin's flush_and_request_resend drops everything still buffered
    this.reply(`Error:${reason}, Last Line: ${this.lastN}`);
    this.reply(`Resend: ${this.lastN + 1}`);
    this.reply('ok');
  }

  /** Marlin's get_serial_commands validation (queue.cpp). */
  private accept(line: string): void {
    if (this.opts.record) this.received.push(line);
    if (this.halted || performance.now() < this.bootUntil) return;
    const m = /^N(-?\d+)/.exec(line);
    if (m) {
      const n = Number(m[1]);
      const isM110 = /^N-?\d+\s+M110\b/.test(line);
      if (!line.includes('*')) { this.stats.lineErrors++; return this.requestResend('No Checksum with line number'); }
      const parsed = parseNumbered(line);
      if (!isM110 && n !== this.lastN + 1) { this.stats.lineErrors++; return this.requestResend('Line Number is not Last Line Number+1'); }
      if (!parsed) { this.stats.lineErrors++; return this.requestResend('checksum mismatch'); }
      if (this.opts.errorRate && this.rand() < this.opts.errorRate) { this.stats.injectedErrors++; return this.requestResend('checksum mismatch'); }
      this.lastN = isM110 ? (arg(parsed.cmd, 'N') ?? n) : n;
      this.queue.push(parsed.cmd);
    } else {
      if (line.includes('*')) { this.stats.lineErrors++; return this.requestResend('No Line Number with checksum'); }
      this.queue.push(line);
    }
  }

  private execute(): void {
    this.busy = true;
    const cmd = this.queue[0]!;
    const trap = this.resetTrap;
    if (trap?.match(cmd)) {
      this.resetTrap = undefined;
      if (trap.afterExecuting) { void this.run(cmd); if (this.opts.record) this.executed.push(cmd); }
      this.reset();
      return;
    }
    const finish = (extra?: string) => {
      if (this.halted) return;
      if (this.opts.record) this.executed.push(cmd);
      this.stats.lines++;
      const free = this.opts.bufsize - this.queue.length; // current command still counted, as in Marlin
      const loseOk = this.loseOkTrap?.(cmd);
      if (loseOk) this.loseOkTrap = undefined;
      if (loseOk || (this.opts.lostOkRate && this.rand() < this.opts.lostOkRate)) this.stats.lostOks++;
      else {
        const adv = this.opts.advancedOk ? ` N${this.lastN} P15 B${free}` : '';
        this.reply(`ok${adv}${extra ? ' ' + extra : ''}`);
      }
      this.queue.shift();
      this.busy = false;
      const halt = this.haltTrap?.match(cmd) ? this.haltTrap : undefined;
      if (halt) { this.haltTrap = undefined; this.kill(halt.reason); }
      this.pump();
    };
    const stall = this.stallTrap?.(cmd);
    if (stall) this.stallTrap = undefined;
    const res = stall ? new Promise<undefined>(() => undefined) : this.run(cmd);
    const go = (extra?: string) => (this.opts.processMs > 0 ? setTimeout(() => finish(extra), this.opts.processMs) : setImmediate(() => finish(extra)));
    if (res instanceof Promise) void res.then(go); else go(res);
  }

  private tempLine(): string {
    const h = this.heaters;
    const chamber = this.opts.chamber ? ` C:${h.C.actual.toFixed(2)} /${h.C.target.toFixed(2)}` : '';
    return `T:${h.T0.actual.toFixed(2)} /${h.T0.target.toFixed(2)} B:${h.B.actual.toFixed(2)} /${h.B.target.toFixed(2)}${chamber} @:0 B@:0`;
  }

  private heat(dt: number): void {
    for (const h of Object.values(this.heaters)) {
      const goal = h.target > 0 ? h.target : 21;
      const step = this.opts.heatRatePerS * dt;
      h.actual = Math.abs(goal - h.actual) <= step ? goal : h.actual + Math.sign(goal - h.actual) * step;
    }
  }

  private waitFor(h: Heater): Promise<undefined> {
    return new Promise((resolve) => {
      const t = setInterval(() => {
        this.reply(this.tempLine());
        if (Math.abs(h.actual - h.target) < 1 || h.target === 0) done();
      }, 250);
      const done = () => { clearInterval(t); this.waitingHeat = null; resolve(undefined); };
      this.waitingHeat = done;
    });
  }

  /** Executes one command; a string result is appended to its ok, a promise delays the ok. */
  private run(cmd: string): string | undefined | Promise<undefined> {
    const word = commandWord(cmd);
    switch (word) {
      case 'G0': case 'G1': case 'G92':
        for (const a of ['X', 'Y', 'Z', 'E'] as const) {
          const v = arg(cmd, a);
          if (v === undefined) continue;
          const next = this.relative && word !== 'G92' ? this.pos[a] + v : v;
          if (word !== 'G92' && a !== 'E') this.physical[a] += next - this.pos[a];
          this.pos[a] = next;
        }
        this.physical.minZ = Math.min(this.physical.minZ, this.physical.Z);
        return undefined;
      case 'G28': {
        // `G28 X Y` homes only X and Y: Marlin keeps its idea of Z, and the head does not move in Z.
        const axes = (['X', 'Y', 'Z'] as const).filter((a) => new RegExp(`\\b${a}`).test(cmd.slice(3)));
        for (const a of axes.length ? axes : (['X', 'Y', 'Z'] as const)) { this.pos[a] = 0; this.physical[a] = 0; }
        this.physical.minZ = Math.min(this.physical.minZ, this.physical.Z);
        return undefined;
      }
      case 'G90': this.relative = false; return undefined;
      case 'G91': this.relative = true; return undefined;
      case 'G4': return new Promise((r) => setTimeout(() => r(undefined), arg(cmd, 'P') ?? (arg(cmd, 'S') ?? 0) * 1000));
      case 'M104': this.heaters.T0.target = arg(cmd, 'S') ?? 0; return undefined;
      case 'M140': this.heaters.B.target = arg(cmd, 'S') ?? 0; return undefined;
      case 'M141': this.heaters.C.target = arg(cmd, 'S') ?? 0; return undefined;
      case 'M109': this.heaters.T0.target = arg(cmd, 'S') ?? 0; return this.waitFor(this.heaters.T0);
      case 'M190': this.heaters.B.target = arg(cmd, 'S') ?? 0; return this.waitFor(this.heaters.B);
      case 'M105': return this.tempLine();
      case 'M114': this.reply(`X:${this.pos.X.toFixed(2)} Y:${this.pos.Y.toFixed(2)} Z:${this.pos.Z.toFixed(2)} E:${this.pos.E.toFixed(2)} Count X:0 Y:0 Z:0`); return undefined;
      case 'M110': return undefined;
      case 'M115':
        this.reply(`FIRMWARE_NAME:Marlin 2.1.2 (PrintBox virtual) SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin PROTOCOL_VERSION:1.0 MACHINE_TYPE:${this.opts.name} EXTRUDER_COUNT:1 UUID:00000000-0000-4000-8000-00000000000${this.opts.seed % 10}`);
        this.reply(`Cap:AUTOREPORT_TEMP:${this.opts.autoreportTemp ? 1 : 0}`);
        this.reply(`Cap:EMERGENCY_PARSER:${this.opts.emergencyParser ? 1 : 0}`);
        this.reply(`Cap:ADVANCED_OK:${this.opts.advancedOk ? 1 : 0}`);
        for (const cap of this.host.capLines()) this.reply(cap);
        return undefined;
      case 'M155': {
        clearInterval(this.autoreport); this.autoreport = undefined;
        const s = arg(cmd, 'S') ?? 0;
        if (this.opts.autoreportTemp && s > 0) { this.autoreport = setInterval(() => this.reply(this.tempLine()), this.opts.autoreportMs ?? s * 1000); this.autoreport.unref(); }
        return undefined;
      }
      case 'M112': this.kill('Printer halted. kill() called!'); return undefined;
      case 'M0': case 'M1': case 'M600': case 'M25': case 'M876': case 'M108': case 'M117': {
        // From the queue; with an emergency parser M108 and M876 S already acted when they arrived.
        if (this.opts.emergencyParser && (word === 'M108' || (word === 'M876' && /\bS\d/.test(cmd)))) return undefined;
        const r = this.host.run(word, cmd);
        return r === 'done' ? undefined : r;
      }
      case 'M82': case 'M83': case 'M84': case 'M106': case 'M107': case 'M400': case 'M410': return undefined;
      default:
        if (/^[GMT]\d*$/.test(word)) return undefined;
        this.reply(`echo:Unknown command: "${cmd}"`);
        return undefined;
    }
  }

  /** Fault injection: a thermal runaway or similar halts the firmware (Error: + kill()). */
  halt(reason = 'Thermal Runaway, system stopped! Heater_ID: 0'): void { this.kill(reason); }

  private kill(reason: string): void {
    if (this.halted) return;
    this.reply(`Error:${reason}`);
    this.reply('Error:Printer halted. kill() called!');
    this.halted = true;
    this.queue = []; this.rx = [];
    for (const h of Object.values(this.heaters)) h.target = 0;
    clearInterval(this.autoreport);
  }
}
