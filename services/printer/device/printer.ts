/**
 * One printer: probe (baud autodetect + M115), connection lifecycle, temperatures, terminal, and the
 * job it is printing. Protocol details live in protocol/*; this file decides what to send and when.
 */
import { AppError, conflict, notFound } from '../../shared/errors.ts';
import type { FileStore } from '../../shared/files.ts';
import type { JobInfo, PrinterEvent, PrinterInfo, PrinterState, Temperatures } from '../../shared/ipc.ts';
import type { Logger } from '../../shared/log.ts';
import { commandProblem, commandWord } from '../protocol/gcode.ts';
import { parseResponse, type Response } from '../protocol/responses.ts';
import { Sender, type Tag } from '../protocol/sender.ts';
import type { OpenPort, PortLike } from '../serial/port.ts';
import { JobReader, countCommands } from '../jobs/job-reader.ts';
import type { JobRecord, JobStore } from '../jobs/job-store.ts';
import { MachineState, parkCommands, recoverCommands, recoverParkedCommands, unparkCommands, type ParkSettings } from './machine-state.ts';
import { probe } from './probe.ts';

export interface PrinterDeps {
  id: string;
  path: string;
  baudrates: number[];
  openPort: OpenPort;
  store: JobStore;
  files: FileStore;
  log: Logger;
  emit: (ev: PrinterEvent) => void;
  okTimeoutMs?: number;
  probeTimeoutMs?: number;
  rxBytes?: number;
  park?: ParkSettings;
}

const JOB_EVENT_MS = 250;
/** DTR must stay released long enough for the board's reset capacitor to recharge (≈1 ms RC on an Uno/Mega). */
const RESET_GAP_MS = 200;
const CHECKPOINT_MS = 1000;

export class Printer {
  state: PrinterState = 'disconnected';
  name: string;
  baudrate: number | undefined;
  capabilities: Record<string, boolean> = {};
  temperatures: Temperatures = {};
  error: string | undefined;
  job: JobRecord | undefined;
  private port: PortLike | undefined;
  private sender: Sender | undefined;
  private reader: JobReader | undefined;
  private machine = new MachineState();
  private feeding = false;
  private waiters = new Map<number, () => void>();
  private drainWaiters: Array<() => void> = [];
  private poll: NodeJS.Timeout | undefined;
  private lastJobEvent = 0;
  private lastCheckpoint = 0;
  private runStart = { at: 0, progress: 0 };
  private readonly park: ParkSettings;
  private shutdown = false;
  private pollPending = false;
  private saving: Promise<void> | undefined;
  private pollId = -1;
  private reconnecting = false;

  constructor(private readonly deps: PrinterDeps) {
    this.name = deps.id;
    this.park = deps.park ?? { retract: 2, lift: 10 };
  }

  get id(): string { return this.deps.id; }
  get path(): string { return this.deps.path; }
  get connected(): boolean { return !!this.port; }

  info(): PrinterInfo {
    return {
      id: this.id, port: this.path, name: this.name, state: this.state, temperatures: this.temperatures,
      ...(this.baudrate ? { baudrate: this.baudrate } : {}),
      ...(Object.keys(this.capabilities).length ? { capabilities: this.capabilities } : {}),
      ...(this.job ? { job: this.jobInfo()! } : {}),
      ...(this.error ? { error: this.error } : {}),
    };
  }

  jobInfo(): JobInfo | undefined {
    if (!this.job) return undefined;
    const { resume: _resume, ...info } = this.job;
    return { ...info, eta_s: this.eta() };
  }

  /** Adopts a resumable job found in the store (service restart, or unplugged while printing). */
  adopt(job: JobRecord): void { this.job = job; if (job.resume) this.machine = MachineState.from(job.resume); }

  async connect(): Promise<void> {
    if (this.port || this.state === 'detecting') return;
    this.setState('detecting');
    this.error = undefined;
    // Opening the port (each baud rate the probe tries) resets a CH340/FTDI+AVR board, and a port we are
    // (re)opening was closed by an unplug, a service stop/crash or reconnect(): assume the board forgot all.
    await this.boardMayHaveReset();
    const found = await probe({ path: this.path, baudrates: this.deps.baudrates, openPort: this.deps.openPort, timeoutMs: this.deps.probeTimeoutMs ?? 3000, log: this.deps.log });
    if (found && this.shutdown) { await found.port.close(); return; } // the service stopped while probing
    if (!found) { this.error = 'No printer answered on this port'; this.setState('error'); return; }
    this.port = found.port; this.baudrate = found.baudrate;
    this.setState('connecting');
    const sender = new Sender({ write: (d) => this.port?.write(d), okTimeoutMs: this.deps.okTimeoutMs ?? 5000, rxBytes: this.deps.rxBytes ?? 128 });
    this.sender = sender;
    sender.on('acked', (tag) => this.onAcked(tag));
    sender.on('drained', () => this.onDrained());
    sender.on('timeout', () => this.deps.log.warn('no answer from firmware; poking with M105', { id: this.id }));
    found.port.onLine((line) => this.onLine(line));
    found.port.onClose((info) => this.onClosed(info.error));
    sender.reset();
    try {
      await this.run(['M115'], 5000);
      this.sender.command('M105'); // temperatures now, not at the first autoreport/poll
      if (this.capabilities.AUTOREPORT_TEMP) await this.run(['M155 S2'], 5000);
      // No autoreport: poll, also while printing (one M105 at a time, queued ahead of job lines).
      else this.poll = setInterval(() => { if (!this.pollPending && this.sender) { this.pollPending = true; this.pollId = this.sender.command('M105'); } }, 2000);
    } catch (e) {
      this.deps.log.warn('handshake failed', { id: this.id, error: (e as Error).message });
    }
    if (!this.port) return;
    this.setState(this.job?.state === 'paused' ? 'paused' : 'idle');
    this.deps.log.info('printer connected', { id: this.id, baudrate: this.baudrate, name: this.name, capabilities: this.capabilities });
  }

  /** Service shutdown: close the port; a running job is checkpointed as paused before this resolves. */
  async disconnect(): Promise<void> { this.shutdown = true; const p = this.port; await p?.close(); await this.saving; }

  /**
   * User-requested reset: close the port and open it again. On CH340/FTDI + AVR boards opening the port
   * toggles DTR and reboots the firmware — the only way out of Marlin's kill() (M112, thermal runaway)
   * short of replugging. Then probe (M110/M115) like a fresh plug-in. Refused while printing; a paused
   * job stays paused, and since the board forgets its state, resume will re-heat and re-home X/Y
   * (connect() decides that, as for a replug or a service restart).
   */
  async reconnect(): Promise<PrinterInfo> {
    if (this.job?.state === 'printing') throw conflict('busy', 'A print is running: pause or cancel it first');
    if (this.reconnecting || this.state === 'detecting' || this.state === 'connecting') throw conflict('busy', `Printer is ${this.state}`);
    if (!this.path) throw conflict('not_connected', 'Printer is not plugged in');
    this.reconnecting = true;
    try {
      this.deps.log.info('reconnecting (board reset)', { id: this.id });
      const port = this.port;
      if (port) { await port.close(); await new Promise((r) => setTimeout(r, RESET_GAP_MS)); }
      await this.connect();
    } finally { this.reconnecting = false; }
    return this.info();
  }

  // ───── jobs ─────
  async start(file: string): Promise<JobInfo> {
    if (this.state !== 'idle') throw conflict('busy', `Printer is ${this.state}`);
    const path = this.deps.files.path(file);
    const { size } = await this.deps.files.stat(file);
    const lines = await countCommands(path);
    this.job = await this.deps.store.create({ printerId: this.id, file, linesTotal: lines, bytesTotal: size });
    this.machine = new MachineState();
    await this.feed(0);
    return this.jobInfo()!;
  }

  async pause(reason = 'user'): Promise<JobInfo> {
    const job = this.requireJob();
    if (job.state !== 'printing') throw conflict('not_printing', 'No print is running');
    this.stopFeeding();
    job.state = 'paused'; job.reason = reason;
    this.setState('paused');
    await this.drained(30_000);
    job.resume = this.machine.point(job.lines_sent, job.bytes_sent);
    await this.run(parkCommands(this.park, job.resume), 30_000).catch(() => undefined);
    await this.checkpoint(true);
    return this.jobInfo()!;
  }

  async resume(): Promise<JobInfo> {
    const job = this.requireJob();
    if (job.state !== 'paused') throw conflict('not_paused', 'The job is not paused');
    if (!this.port || (this.state !== 'paused' && this.state !== 'idle')) throw conflict('not_connected', 'Printer is not connected');
    const point = job.resume ?? this.machine.point(job.lines_sent, job.bytes_sent);
    const cmds = job.reason === 'user' ? unparkCommands(this.park, point)
      : job.reason === 'reset-while-parked' ? recoverParkedCommands(this.park, point) : recoverCommands(point);
    job.state = 'printing'; delete job.reason;
    this.setState('printing');
    await this.run(cmds, 600_000);
    await this.feed(point.index);
    return this.jobInfo()!;
  }

  async cancel(): Promise<JobInfo> {
    const job = this.requireJob();
    if (job.state !== 'printing' && job.state !== 'paused') throw conflict('not_active', 'No active job');
    this.stopFeeding();
    this.finishJob('cancelled');
    if (this.port) {
      this.sender?.command('M104 S0'); this.sender?.command('M140 S0'); this.sender?.command('M107');
      this.setState('idle');
    }
    return this.jobInfo()!;
  }

  command(gcode: string): void {
    const cmd = gcode.trim();
    const problem = commandProblem(cmd);
    if (problem) throw new AppError('bad_gcode', 400, `Invalid command: ${problem}`);
    if (!this.port || !this.sender) throw conflict('not_connected', 'Printer is not connected');
    const word = commandWord(cmd);
    if (word === 'M112') return this.emergencyStop();
    if ((word === 'M108' || word === 'M410') && this.capabilities.EMERGENCY_PARSER) this.sender.raw(cmd);
    else this.sender.command(cmd);
    this.deps.emit({ event: 'log', data: { id: this.id, direction: 'sent', line: cmd } });
  }

  /** M112 jumps every queue; the firmware halts and needs a reset (reconnect(), replug or service restart). */
  emergencyStop(): void {
    if (!this.port || !this.sender) throw conflict('not_connected', 'Printer is not connected');
    this.sender.raw('M112');
    this.stopFeeding();
    this.sender.stop();
    if (this.job && (this.job.state === 'printing' || this.job.state === 'paused')) this.finishJob('failed', 'emergency-stop');
    this.error = 'Emergency stop (M112): reset the printer';
    this.setState('error');
  }

  // ───── internals ─────
  /**
   * The one place that decides "the board was reset while parked" (port reopened after unplug, service
   * restart or reconnect; firmware `start`): the firmware forgot position, homing and temperatures, so a
   * user pause must resume with recoverParkedCommands, not a plain un-park. Persisted at once. A wrong guess
   * (native USB, no reset) is harmless: heat, home X/Y and G92 at the parked height the head really is at.
   */
  private async boardMayHaveReset(): Promise<void> {
    const job = this.job;
    if (job?.state !== 'paused' || job.reason !== 'user') return;
    job.reason = 'reset-while-parked';
    this.deps.log.info('board reset while parked: resume will re-heat and re-home X/Y', { id: this.id, job: job.id });
    await this.checkpoint(true);
  }

  private requireJob(): JobRecord { if (!this.job) throw notFound('Job'); return this.job; }

  private async feed(index: number): Promise<void> {
    const job = this.requireJob();
    await this.reader?.close();
    this.reader = await JobReader.open(this.deps.files.path(job.file), index);
    job.state = 'printing';
    this.runStart = { at: Date.now(), progress: job.progress };
    this.feeding = true;
    this.setState('printing');
    this.sender!.setSource(this.reader);
    this.emitJob(true);
  }

  private stopFeeding(): void { this.feeding = false; this.sender?.setSource(null); }

  private finishJob(state: 'done' | 'cancelled' | 'failed', reason?: string): void {
    const job = this.job!;
    job.state = state;
    if (reason) job.reason = reason; else delete job.reason;
    job.ended_at = new Date().toISOString();
    if (state === 'done') job.progress = 1;
    void this.reader?.close(); this.reader = undefined;
    void this.checkpoint(true);
  }

  /** Runs commands through the sender in order and resolves when the last is acknowledged. */
  private run(cmds: string[], timeoutMs: number): Promise<void> {
    const sender = this.sender;
    if (!sender || !cmds.length) return Promise.resolve();
    let last = 0;
    for (const c of cmds) last = sender.command(c);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this.waiters.delete(last); reject(new AppError('printer_timeout', 504, `Printer did not acknowledge ${cmds.at(-1)}`)); }, timeoutMs);
      this.waiters.set(last, () => { clearTimeout(t); resolve(); });
    });
  }

  private drained(timeoutMs: number): Promise<void> {
    if (!this.sender || this.sender.idle) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, timeoutMs);
      function done() { clearTimeout(t); resolve(); }
      this.drainWaiters.push(done);
    });
  }

  private onAcked(tag: Tag): void {
    if (tag.kind === 'cmd' && tag.id === this.pollId) this.pollPending = false;
    if (tag.kind === 'cmd') { const w = this.waiters.get(tag.id); if (w) { this.waiters.delete(tag.id); w(); } return; }
    const job = this.job;
    if (!job || tag.line.index < job.lines_sent) return; // a resent duplicate
    job.lines_sent = tag.line.index + 1;
    job.bytes_sent = tag.line.byteEnd;
    job.progress = job.bytes_total ? job.bytes_sent / job.bytes_total : 0;
    this.machine.apply(tag.line.cmd);
    this.emitJob(false);
    void this.checkpoint(false);
  }

  private onDrained(): void {
    const waiters = this.drainWaiters; this.drainWaiters = [];
    waiters.forEach((f) => f());
    if (this.feeding && this.job?.state === 'printing') {
      this.feeding = false;
      if (this.reader?.error) { this.finishJob('failed', 'file-read-error'); } else this.finishJob('done');
      this.setState('idle');
      this.emitJob(true);
    }
  }

  private onLine(line: string): void {
    const r: Response = parseResponse(line);
    switch (r.type) {
      case 'ok': if (r.temperatures) this.setTemperatures(r.temperatures); break;
      case 'temperatures': this.setTemperatures(r.temperatures); break;
      case 'firmware': this.name = r.fields.MACHINE_TYPE || r.fields.FIRMWARE_NAME || this.name; break;
      case 'capability': this.capabilities[r.name] = r.enabled; break;
      case 'error': if (r.fatal) this.onFirmwareError(r.message); break;
      case 'start': this.onFirmwareReset(); break;
      default: break;
    }
    if (r.type !== 'ok' && r.type !== 'temperatures') this.deps.emit({ event: 'log', data: { id: this.id, direction: 'received', line } });
    this.sender?.handle(r);
  }

  private onFirmwareError(message: string): void {
    if (this.state === 'error') return;
    this.deps.log.error('firmware error', { id: this.id, message });
    this.error = message;
    this.stopFeeding();
    if (this.job && (this.job.state === 'printing' || this.job.state === 'paused')) this.finishJob('failed', 'firmware-error');
    this.setState('error');
  }

  /**
   * `start` after the handshake: the board rebooted (watchdog, brown-out, DTR glitch). Its buffers and
   * line numbers are gone, so everything in flight is lost: pause the job like an unplug and renumber.
   */
  private onFirmwareReset(): void {
    if (!this.sender || this.state === 'detecting' || this.state === 'connecting') return;
    this.deps.log.warn('firmware restarted', { id: this.id });
    this.stopFeeding();
    const job = this.job;
    if (job?.state === 'printing') {
      job.state = 'paused'; job.reason = 'firmware-reset';
      job.resume = this.machine.point(job.lines_sent, job.bytes_sent);
      void this.reader?.close(); this.reader = undefined;
      void this.checkpoint(true);
    } else void this.boardMayHaveReset();
    this.sender.stop();
    this.sender.reset();
    this.drainWaiters.splice(0).forEach((f) => f());
    this.error = undefined; // a reset is also how a halted (M112, thermal) printer comes back
    this.setState(job?.state === 'paused' ? 'paused' : 'idle');
  }

  private onClosed(error?: string): void {
    this.deps.log.warn('port closed', { id: this.id, error });
    clearInterval(this.poll);
    this.pollPending = false;
    this.sender?.stop();
    this.sender = undefined; this.port = undefined; this.feeding = false;
    this.waiters.clear();
    const job = this.job;
    if (job?.state === 'printing') {
      job.state = 'paused'; job.reason = this.shutdown ? 'service-restart' : 'disconnect';
      job.resume = this.machine.point(job.lines_sent, job.bytes_sent);
      void this.reader?.close(); this.reader = undefined;
      this.saving = this.checkpoint(true);
    }
    this.drainWaiters.splice(0).forEach((f) => f());
    this.setState('disconnected');
  }

  private setTemperatures(t: Temperatures): void {
    this.temperatures = { ...this.temperatures, ...t };
    this.deps.emit({ event: 'temperatures', data: { id: this.id, temperatures: this.temperatures } });
  }

  private setState(s: PrinterState): void {
    this.state = s;
    this.deps.emit({ event: 'printer', data: this.info() });
  }

  private emitJob(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastJobEvent < JOB_EVENT_MS) return;
    this.lastJobEvent = now;
    const info = this.jobInfo();
    if (info) this.deps.emit({ event: 'job', data: info });
  }

  private async checkpoint(force: boolean): Promise<void> {
    const now = Date.now();
    if (!this.job || (!force && now - this.lastCheckpoint < CHECKPOINT_MS)) return;
    this.lastCheckpoint = now;
    if (this.job.state === 'printing') this.job.resume = this.machine.point(this.job.lines_sent, this.job.bytes_sent);
    try { await this.deps.store.save(this.job); } catch (e) { this.deps.log.error('job checkpoint failed', { error: String(e) }); }
    if (force) this.emitJob(true);
  }

  private eta(): number | null {
    const job = this.job;
    if (!job || job.state !== 'printing') return null;
    const done = job.progress - this.runStart.progress;
    if (done <= 0.001) return null;
    return Math.round(((Date.now() - this.runStart.at) / 1000 / done) * (1 - job.progress));
  }
}
