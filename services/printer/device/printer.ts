/**
 * One printer: probe (baud autodetect + M115), connection lifecycle, firmware replies (identity,
 * temperatures, errors, resets) and the terminal. The open port + sender are a PrinterLink (link.ts);
 * the job and its pause/resume are JobControl's (job-control.ts). Protocol details live in protocol/*.
 */
import { AppError, conflict } from '../../shared/errors.ts';
import type { FileStore } from '../../shared/files.ts';
import type { ControlAction, JobInfo, PrinterEvent, PrinterInfo, PrinterProfile, PrinterState, Temperatures } from '../../shared/ipc.ts';
import type { Logger } from '../../shared/log.ts';
import { commandProblem, commandWord } from '../../shared/gcode.ts';
import { fromWire, toWire } from '../protocol/gcode.ts';
import { parseResponse, type Response } from '../protocol/responses.ts';
import type { OpenPort } from '../serial/port.ts';
import type { JobRecord, JobStore } from '../jobs/job-store.ts';
import { HostActions } from './host-actions.ts';
import { JobControl } from './job-control.ts';
import { PrinterLink } from './link.ts';
import type { SenderFailure } from '../protocol/sender.ts';
import type { ParkSettings } from './machine-state.ts';
import { probe } from './probe.ts';
import { controlCommands } from './control.ts';
import type { FirmwareFacts } from '../profiles/profile.ts';

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
  /** How long each baud rate is given to answer (bootloader + firmware start); default 10 s. */
  probeTimeoutMs?: number;
  rxBytes?: number;
  park?: ParkSettings;
  /** Resume prelude (re-heat, home, un-park) acknowledgement limit; default 10 min. */
  resumeTimeoutMs?: number;
}

/** DTR must stay released long enough for the board's reset capacitor to recharge (≈1 ms RC on an Uno/Mega). */
const RESET_GAP_MS = 200;

export class Printer {
  state: PrinterState = 'disconnected';
  name: string;
  baudrate: number | undefined;
  capabilities: Record<string, boolean> = {};
  temperatures: Temperatures = {};
  error: string | undefined;
  /** EXTRUDER_COUNT from M115: every hotend is switched off after a halt. */
  private extruders = 1;
  private link: PrinterLink | undefined;
  private readonly jobs: JobControl;
  /** Host action commands and firmware prompts (host-actions.ts). */
  private readonly host: HostActions;
  private shutdown = false;
  /** Terminal commands whose `ok` has not arrived yet (sender command ids). */
  private readonly terminalIds = new Set<number>();
  private reconnecting = false;
  /** No ok came within the ok timeout and none has come since (onStall). */
  private stalled = false;

  constructor(private readonly deps: PrinterDeps) {
    this.name = deps.id;
    this.jobs = new JobControl({
      id: deps.id, files: deps.files, store: deps.store, log: deps.log, emit: deps.emit,
      park: deps.park ?? { retract: 2, lift: 10 }, resumeTimeoutMs: deps.resumeTimeoutMs ?? 600_000,
      link: () => this.link, state: () => this.state, setState: (s) => this.setState(s), name: () => this.name,
    });
    this.host = new HostActions({
      id: deps.id, log: deps.log, emit: deps.emit, jobs: this.jobs, link: () => this.link, capabilities: () => this.capabilities,
      disconnect: async () => { await this.link?.close(); }, changed: () => this.deps.emit({ event: 'printer', data: this.info() }),
    });
  }

  get id(): string { return this.deps.id; }
  get path(): string { return this.deps.path; }
  get connected(): boolean { return !!this.link; }
  get job(): JobRecord | undefined { return this.jobs.job; }

  info(): PrinterInfo {
    const job = this.jobs.info();
    return {
      id: this.id, port: this.path, name: this.name, state: this.state, temperatures: this.temperatures,
      ...(this.baudrate ? { baudrate: this.baudrate } : {}),
      ...(Object.keys(this.capabilities).length ? { capabilities: this.capabilities } : {}),
      ...(job ? { job } : {}),
      ...(this.error ? { error: this.error } : {}),
      ...(this.host.prompt ? { prompt: this.host.prompt } : {}),
    };
  }

  jobInfo(): JobInfo | undefined { return this.jobs.info(); }

  /** Adopts a resumable job found in the store (service restart, or unplugged while printing). */
  adopt(job: JobRecord): void { this.jobs.adopt(job); }

  start(file: string, user?: string): Promise<JobInfo> { return this.jobs.start(file, user); }
  pause(reason = 'user'): Promise<JobInfo> { return this.jobs.pause(reason); }
  resume(): Promise<JobInfo> { this.host.guardResume(); return this.jobs.resume(); }
  /** Answers the open host prompt (host-actions.ts); returns the command sent (M876 S<n> or M108). */
  answerPrompt(promptId: number, choice: number, user?: string): string { return this.host.answer(promptId, choice, user); }
  cancel(): Promise<JobInfo> { return this.jobs.cancel(); }

  async connect(): Promise<void> {
    if (this.link || this.state === 'detecting') return;
    this.setState('detecting');
    this.error = undefined;
    // Opening the port (each baud rate the probe tries) resets a CH340/FTDI+AVR board, and a port we are
    // (re)opening was closed by an unplug, a service stop/crash or reconnect(): assume the board forgot all.
    await this.jobs.boardMayHaveReset();
    const found = await probe({ path: this.path, baudrates: this.deps.baudrates, openPort: this.deps.openPort, timeoutMs: this.deps.probeTimeoutMs ?? 10_000, log: this.deps.log });
    if (found && 'port' in found && this.shutdown) { await found.port.close(); return; } // the service stopped while probing
    if (!found || !('port' in found)) {
      this.error = found ? `The printer reports an error: ${found.error} (reset it or fix the fault, then reconnect)` : 'No printer answered on this port';
      this.setState('error');
      return;
    }
    this.baudrate = found.baudrate;
    const link = new PrinterLink({
      port: found.port, okTimeoutMs: this.deps.okTimeoutMs ?? 5000, rxBytes: this.deps.rxBytes ?? 128,
      onJobAcked: (line) => this.jobs.onAcked(line),
      onDrained: () => this.jobs.onDrained(),
      onTimeout: () => this.onStall(),
      onFailed: (f) => this.onLinkFailed(f),
      onRefused: (_line, message) => this.onLineRefused(message),
    });
    this.link = link;
    this.stalled = false;
    this.terminalIds.clear(); // ids of a previous connection's sender
    this.setState('connecting');
    found.port.onLine((line) => this.onLine(line));
    found.port.onClose((info) => this.onClosed(info.error));
    link.reset();
    try {
      await link.run(['M115'], 5000);
      link.command('M105'); // temperatures now, not at the first autoreport/poll
      if (this.capabilities.AUTOREPORT_TEMP) await link.run(['M155 S2'], 5000);
      else link.pollTemperatures(2000);
      await this.host.connected();
    } catch (e) {
      this.deps.log.warn('handshake failed', { id: this.id, error: (e as Error).message });
    }
    if (!this.link) return;
    // A halt reported during the handshake (thermal error, kill()) stands: a halted board must not take a job.
    if (this.state === 'error') return;
    this.setState(this.jobs.job?.state === 'paused' ? 'paused' : 'idle');
    this.deps.log.info('printer connected', { id: this.id, baudrate: this.baudrate, name: this.name, capabilities: this.capabilities });
  }

  /** Service shutdown: close the port; a running job is checkpointed as paused before this resolves. */
  async disconnect(): Promise<void> { this.shutdown = true; await this.link?.close(); await this.jobs.saved(); }

  /**
   * User-requested reset: close the port and open it again. On CH340/FTDI + AVR boards opening the port
   * toggles DTR and reboots the firmware — the only way out of Marlin's kill() (M112, thermal runaway)
   * short of replugging. Then probe (M110/M115) like a fresh plug-in. Refused while printing; a paused
   * job stays paused, and since the board forgets its state, resume will re-heat and re-home X/Y
   * (connect() decides that, as for a replug or a service restart).
   */
  async reconnect(): Promise<PrinterInfo> {
    if (this.jobs.job?.state === 'printing') throw conflict('busy', 'A print is running: pause or cancel it first');
    if (this.reconnecting || this.state === 'detecting' || this.state === 'connecting') throw conflict('busy', `Printer is ${this.state}`);
    if (!this.path) throw conflict('not_connected', 'Printer is not plugged in');
    this.reconnecting = true;
    try {
      this.deps.log.info('reconnecting (board reset)', { id: this.id });
      const link = this.link;
      if (link) { await link.close(); await new Promise((r) => setTimeout(r, RESET_GAP_MS)); }
      await this.connect();
    } finally { this.reconnecting = false; }
    return this.info();
  }

  command(gcode: string): void {
    const text = gcode.trim();
    const cmd = toWire(text);
    const problem = commandProblem(cmd);
    if (problem) throw new AppError('bad_gcode', 400, `Invalid command: ${problem}`);
    if (!this.link) throw conflict('not_connected', 'Printer is not connected');
    const word = commandWord(cmd);
    if (word === 'M112') return this.emergencyStop();
    if ((word === 'M108' || word === 'M410') && this.capabilities.EMERGENCY_PARSER) this.link.unnumbered(cmd);
    else this.terminalIds.add(this.link.command(cmd));
    this.deps.emit({ event: 'log', data: { id: this.id, direction: 'sent', line: text } });
  }

  /** What the firmware told about itself: the defaults of the printer's profile (profiles/profile.ts). */
  firmwareFacts(): FirmwareFacts { return { extruders: this.extruders, heaters: Object.keys(this.temperatures) }; }

  /**
   * A control-panel action: control.ts builds its G-code or refuses it (job running, cold hotend, out of the
   * profile's range) before anything is queued; then all its lines are queued at once, behind the job's lines
   * like terminal commands, so nothing else lands between a G91 and its G90.
   */
  control(action: ControlAction, profile: PrinterProfile): string[] {
    if (!this.link) throw conflict('not_connected', 'Printer is not connected');
    const state = this.jobs.job?.state;
    const lines = controlCommands({ profile, temperatures: this.temperatures, jobActive: state === 'printing' || state === 'paused' }, action);
    for (const line of lines) this.command(line);
    return lines;
  }

  /** M112 jumps every queue; the firmware halts and needs a reset (reconnect(), replug or service restart). */
  emergencyStop(): void {
    if (!this.link) throw conflict('not_connected', 'Printer is not connected');
    this.link.emergencyStop(this.heatersOff());
    this.jobs.fail('emergency-stop');
    this.error = 'Emergency stop (M112): reset the printer';
    this.setState('error');
  }

  /**
   * No ok within the ok timeout: the sender polls with M105 and resends or gives up (sender.ts). The user is
   * told once per stall, and again when the printer answers, so a wait is never silent; the job keeps both.
   */
  private onStall(): void {
    this.deps.log.warn('no answer from firmware; polling with M105', { id: this.id });
    if (this.stalled) return;
    this.stalled = true;
    this.tell('The printer stopped answering: PrintBox is asking it with M105 and will resend or stop the job');
  }

  private tell(text: string): void {
    this.deps.emit({ event: 'notification', data: { id: this.id, text, at: new Date().toISOString() } });
    this.jobs.note({ kind: 'notification', text });
  }

  private onLine(line: string): void {
    const r: Response = parseResponse(line);
    if (this.stalled && (r.type === 'ok' || r.type === 'busy')) {
      this.stalled = false;
      this.tell('The printer answers again');
    }
    switch (r.type) {
      case 'ok': if (r.temperatures) this.setTemperatures(r.temperatures); break;
      case 'temperatures': this.setTemperatures(r.temperatures); break;
      case 'firmware':
        this.name = r.fields.MACHINE_TYPE || r.fields.FIRMWARE_NAME || this.name;
        this.extruders = Math.max(1, Number(r.fields.EXTRUDER_COUNT) || 1);
        this.link?.firmware(r.fields.FIRMWARE_NAME ?? '');
        break;
      case 'capability': this.capabilities[r.name] = r.enabled; break;
      case 'error': if (r.fatal) this.onFirmwareError(r.message); break;
      case 'start': this.onFirmwareReset(); break;
      default: break;
    }
    // Job and poll oks would flood the terminal; the ok answering a terminal command is its answer (M105, G28).
    const tag = r.type === 'ok' ? this.link?.nextAck() : undefined;
    const answersTerminal = tag?.kind === 'cmd' && this.terminalIds.delete(tag.id);
    if ((r.type !== 'ok' && r.type !== 'temperatures') || answersTerminal) this.deps.emit({ event: 'log', data: { id: this.id, direction: 'received', line: fromWire(line) } });
    this.host.handle(r);
    this.link?.handle(r);
  }

  private onFirmwareError(message: string): void {
    if (this.state === 'error') return;
    this.deps.log.error('firmware error', { id: this.id, message });
    this.error = message;
    this.jobs.fail('firmware-error');
    // Marlin's kill() switches its heaters off, but other firmware and other faults may not: ask, unnumbered
    // (accepted whatever the line count), so a firmware that still listens obeys.
    for (const cmd of this.heatersOff()) this.link?.unnumbered(cmd);
    this.setState('error');
  }

  /** The sender gave up: no answer to its polls, or the firmware's line numbering no longer matches ours. */
  private onLinkFailed(f: SenderFailure): void {
    this.deps.log.error('printer link failed', { id: this.id, code: f.code, message: f.message });
    if (this.state === 'error') return;
    this.jobs.fail(f.code === 'no_response' ? 'no-response' : f.code === 'line_numbering' ? 'line-numbering' : 'resend-failed');
    for (const cmd of this.heatersOff()) this.link?.raw(cmd);
    this.error = f.message;
    this.setState('error');
  }

  /** A file line too long for the firmware: the job fails there, heaters off; the printer itself is fine. */
  private onLineRefused(message: string): void {
    this.deps.log.error('job line refused', { id: this.id, message });
    this.tell(message);
    this.jobs.fail('line-too-long');
    for (const cmd of [...this.heatersOff(), 'M107']) this.link?.command(cmd);
    this.setState('idle');
  }

  /** M104 S0 for every hotend, M140 S0, and M141 S0 when M105 reports a chamber (C:). */
  private heatersOff(): string[] {
    const tools = Math.max(this.extruders, Object.keys(this.temperatures).filter((k) => /^T\d+$/.test(k)).length);
    const out = Array.from({ length: tools }, (_, i) => `M104 T${i} S0`);
    out.push('M140 S0');
    if (this.temperatures.C) out.push('M141 S0');
    return out;
  }

  /** `start` after the handshake: the board rebooted (watchdog, brown-out, DTR glitch); see JobControl.onBoardReset. */
  private onFirmwareReset(): void {
    if (!this.link || this.state === 'detecting' || this.state === 'connecting') return;
    this.deps.log.warn('firmware restarted', { id: this.id });
    this.jobs.onBoardReset();
    this.link.afterBoardReset();
    this.host.reset();
    this.error = undefined; // a reset is also how a halted (M112, thermal) printer comes back
    this.setState(this.jobs.job?.state === 'paused' ? 'paused' : 'idle');
  }

  private onClosed(error?: string): void {
    this.deps.log.warn('port closed', { id: this.id, error });
    const link = this.link;
    link?.closed();
    this.link = undefined;
    this.jobs.onPortClosed(this.shutdown);
    link?.releaseDrainWaiters();
    this.host.reset();
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
}
