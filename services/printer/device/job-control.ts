/**
 * The job one printer is printing: start, pause (park), resume (un-park or recover after a board
 * reset), cancel, progress from acknowledged lines, the resume point, and checkpoints to the job store.
 * It sends through the Printer's current PrinterLink and never opens or closes ports itself; Printer
 * tells it what happened to the connection (board reset, port closed) and it decides what that means
 * for the job.
 */
import { conflict, notFound } from '../../shared/errors.ts';
import type { FileStore } from '../../shared/files.ts';
import type { JobEvent, JobInfo, PrinterEvent, PrinterState } from '../../shared/ipc.ts';
import type { Logger } from '../../shared/log.ts';
import type { JobLine } from '../protocol/sender.ts';
import { readMeta } from '../../shared/file-meta.ts';
import { FilamentCounter } from '../jobs/filament.ts';
import { LayerTracker } from '../jobs/layers.ts';
import { BlockingSource } from '../jobs/blocking-source.ts';
import { JobReader, countCommands } from '../jobs/job-reader.ts';
import { toJobInfo, type JobRecord, type JobStore, type ResumePoint } from '../jobs/job-store.ts';
import type { PrinterLink } from './link.ts';
import {
  MachineState, parkCommands, recoverParkedCommands, recoverRaisedCommands, unparkCommands, type ParkSettings,
} from './machine-state.ts';

export interface JobControlDeps {
  id: string;
  files: FileStore;
  store: JobStore;
  log: Logger;
  emit: (ev: PrinterEvent) => void;
  park: ParkSettings;
  /** How long resume waits for its prelude (heating included) to be acknowledged. */
  resumeTimeoutMs: number;
  /** The printer's open connection, if any. */
  link: () => PrinterLink | undefined;
  state: () => PrinterState;
  setState: (s: PrinterState) => void;
  /** The printer's current name (kept with a job, for the history). */
  name: () => string;
}

const JOB_EVENT_MS = 250;
/** A job's firmware events kept for the history: a print with a prompt loop must not grow its record without end. */
export const JOB_EVENTS_MAX = 50;
const CHECKPOINT_MS = 1000;

export class JobControl {
  job: JobRecord | undefined;
  private reader: JobReader | undefined;
  private source: BlockingSource | undefined;
  private machine = new MachineState();
  private filament = new FilamentCounter();
  private layers = new LayerTracker();
  private feeding = false;
  private lastJobEvent = 0;
  private lastCheckpoint = 0;
  private runStart = { at: 0, progress: 0 };
  private saving: Promise<void> | undefined;

  constructor(private readonly deps: JobControlDeps) {}

  info(): JobInfo | undefined {
    if (!this.job) return undefined;
    const { resume } = this.job;
    const info = toJobInfo(this.job);
    const parked = info.state === 'paused' && resume ? { parked: resume.parked !== false } : {};
    return { ...info, ...parked, filament_mm: this.filament.used, eta_s: this.eta() };
  }

  get active(): boolean { return this.job?.state === 'printing' || this.job?.state === 'paused'; }

  /** Adopts a resumable job found in the store (service restart, or unplugged while printing). */
  adopt(job: JobRecord): void {
    this.job = job;
    if (job.resume) this.machine = MachineState.from(job.resume);
    // Jobs checkpointed before the counter existed go on from the resume point's E with nothing counted.
    this.filament = FilamentCounter.from(job.extrusion ?? { e: job.resume?.e ?? 0, relative: job.resume?.relativeE ?? false, max: job.filament_mm ?? 0, total: job.filament_mm ?? 0 });
  }

  /** Resolves once the checkpoint written when the port closed mid-print is on disk. */
  async saved(): Promise<void> { await this.saving; }

  async start(file: string, user?: string): Promise<JobInfo> {
    const state = this.deps.state();
    if (state !== 'idle') throw conflict('busy', `Printer is ${state}`);
    const path = this.deps.files.path(file);
    const { size } = await this.deps.files.stat(file);
    const lines = await countCommands(path);
    // The file's estimate, from its metadata (the slicer's figure, else computed from its moves at upload): shown beside the counted one.
    const estimate = (await readMeta(path, size).catch(() => undefined))?.metadata?.filament_used_mm ?? null;
    this.job = await this.deps.store.create({
      printerId: this.deps.id, file, linesTotal: lines, bytesTotal: size, user, printerName: this.deps.name(), filamentEstimateMm: estimate,
    });
    this.machine = new MachineState();
    this.filament = new FilamentCounter();
    this.layers = new LayerTracker();
    await this.feed(0);
    return this.info()!;
  }

  async pause(reason = 'user'): Promise<JobInfo> {
    const job = this.requireJob();
    if (job.state !== 'printing') throw conflict('not_printing', 'No print is running');
    this.stopFeeding();
    job.state = 'paused'; job.reason = reason;
    // Until the park is confirmed the head counts as down on the print (boardMayHaveReset reads `parked`).
    job.resume = { ...this.machine.point(job.lines_sent, job.bytes_sent), parked: false };
    this.deps.setState('paused');
    await this.deps.link()?.drained(30_000);
    const point: ResumePoint = { ...this.machine.point(job.lines_sent, job.bytes_sent), parked: false };
    job.resume = point;
    // On disk before the park moves leave: a reset, unplug or kill before they are confirmed must not be
    // resumed as if the head were lifted.
    await this.checkpoint(true);
    const link = this.deps.link();
    // A reset or unplug while draining took over (reset-while-parking / disconnect): nothing was lifted, and
    // a park sent to a rebooted board now would move a head its resume no longer expects to be up.
    if (!link || job.reason !== reason) return this.info()!;
    try {
      await link.run(parkCommands(this.deps.park, point), 30_000);
      point.parked = job.reason === reason; // still our pause, not taken over by a reset meanwhile
    } catch (e) {
      this.deps.log.warn('park not confirmed', { id: this.deps.id, job: job.id, error: (e as Error).message });
    }
    await this.checkpoint(true);
    return this.info()!;
  }

  async resume(): Promise<JobInfo> {
    const job = this.requireJob();
    if (job.state !== 'paused') throw conflict('not_paused', 'The job is not paused');
    const state = this.deps.state();
    if (!this.deps.link() || (state !== 'paused' && state !== 'idle')) throw conflict('not_connected', 'Printer is not connected');
    // Before any prelude moves the head: a file that is gone (deleted by hand) cannot be fed afterwards.
    await this.deps.files.stat(job.file).catch(() => { throw conflict('file_missing', `“${job.file}” is no longer on the PrintBox; this print cannot be resumed. Cancel it.`); });
    const point = job.resume ?? this.machine.point(job.lines_sent, job.bytes_sent);
    const park = this.deps.park;
    // "firmware": the firmware paused and parked itself (M600) and un-parks itself; we only feed again, once
    // the lines it still held are acknowledged. Any other reason (disconnect, service-restart, firmware-reset,
    // reset-while-parking, resume-failed) means a board reset or an interrupted move, with the head on the
    // print or somewhere up to one lift above it.
    const byFirmware = job.reason === 'firmware';
    const cmds = byFirmware ? [] : job.reason === 'user' ? unparkCommands(park, point)
      : job.reason === 'reset-while-parked' ? recoverParkedCommands(park, point) : recoverRaisedCommands(park, point);
    job.state = 'printing'; delete job.reason;
    this.deps.setState('printing');
    try {
      await this.deps.link()?.run(cmds, this.deps.resumeTimeoutMs);
      if (byFirmware) await this.deps.link()?.drained(this.deps.resumeTimeoutMs);
    } catch (e) {
      // A reset or unplug mid-prelude has already paused the job (onBoardReset/onPortClosed). Otherwise the
      // prelude timed out: never leave a "printing" job that nothing feeds. Part of it may have run, so the
      // head is somewhere between where it was and where the prelude would have put it: the next resume
      // must not trust the park either (resume-failed → lift, re-home X/Y, assume the lower height).
      if (this.job === job && job.state === 'printing') {
        job.state = 'paused'; job.reason = 'resume-failed';
        this.deps.log.warn('resume prelude failed', { id: this.deps.id, job: job.id, error: (e as Error).message });
        this.deps.setState(this.deps.link() ? 'paused' : 'disconnected');
        await this.checkpoint(true);
      }
      throw e;
    }
    // After a firmware pause the lines it held were acknowledged meanwhile: go on after the last of them.
    if (byFirmware) await this.feed(job.lines_sent, job.bytes_sent); else await this.feed(point.index, point.byteOffset);
    return this.info()!;
  }

  /**
   * `//action:paused`: the firmware paused the print itself (M600 filament change, runout) and parks the head
   * on its own; OctoPrint then pauses "without triggering any GCODE scripts" (docs/features/action_commands.rst).
   * Stop feeding; lines already sent stay with the firmware, which runs them when it goes on. No park.
   */
  firmwarePaused(): boolean {
    const job = this.job;
    if (job?.state !== 'printing') return false;
    this.stopFeeding();
    job.state = 'paused'; job.reason = 'firmware';
    job.resume = this.machine.point(job.lines_sent, job.bytes_sent);
    this.deps.setState('paused');
    void this.checkpoint(true);
    return true;
  }

  /** `//action:resumed`: the firmware un-parked and goes on; feed again (no un-park). Only for its own pause. */
  async firmwareResumed(): Promise<boolean> {
    if (this.job?.state !== 'paused' || this.job.reason !== 'firmware') return false;
    await this.resume();
    return true;
  }

  /** Records what the firmware said (prompt, answer, notification, action) on the active job, for the history. */
  note(ev: Omit<JobEvent, 'at'>): void {
    const job = this.job;
    if (!job || !this.active) return;
    const events = job.events ?? (job.events = []);
    events.push({ at: new Date().toISOString(), ...ev });
    if (events.length > JOB_EVENTS_MAX) events.splice(0, events.length - JOB_EVENTS_MAX);
    void this.checkpoint(true);
  }

  async cancel(): Promise<JobInfo> {
    const job = this.requireJob();
    if (job.state !== 'printing' && job.state !== 'paused') throw conflict('not_active', 'No active job');
    this.stopFeeding();
    this.finish('cancelled');
    const link = this.deps.link();
    if (link) {
      link.command('M104 S0'); link.command('M140 S0'); link.command('M107');
      this.deps.setState('idle');
    }
    return this.info()!;
  }

  /** The firmware halted (M112, thermal runaway): an active job has failed. */
  fail(reason: string): void {
    this.stopFeeding();
    if (this.active) this.finish('failed', reason);
  }

  stopFeeding(): void { this.feeding = false; this.deps.link()?.setSource(null); }

  /**
   * The one place that decides "the board was reset while parked" (port reopened after unplug, service
   * restart or reconnect; firmware `start`): the firmware forgot position, homing and temperatures, so a
   * user pause must resume with recoverParkedCommands, not a plain un-park. Persisted at once. A wrong guess
   * (native USB, no reset) is harmless: heat, home X/Y and G92 at the parked height the head really is at.
   * If the park was never confirmed (reset while its moves were in flight) the head may or may not be up:
   * reset-while-parking, which resumes assuming the lower, safe height (recoverRaisedCommands).
   */
  async boardMayHaveReset(): Promise<void> {
    const job = this.job;
    // A firmware pause (M600) forgotten by the reset: the firmware's park height is not ours to know.
    if (job?.state !== 'paused' || (job.reason !== 'user' && job.reason !== 'firmware')) return;
    const confirmed = job.reason === 'user' && job.resume?.parked !== false; // points stored before `parked` existed were confirmed parks
    job.reason = confirmed ? 'reset-while-parked' : 'reset-while-parking';
    this.deps.log.info(confirmed ? 'board reset while parked: resume will re-heat and re-home X/Y'
      : 'board reset while parking: head height unknown, resume will lift, re-heat, re-home X/Y and assume the lower height', { id: this.deps.id, job: job.id });
    await this.checkpoint(true);
  }

  /**
   * `start` after the handshake: the board rebooted (watchdog, brown-out, DTR glitch). Its buffers and
   * line numbers are gone, so everything in flight is lost: pause the job like an unplug.
   */
  onBoardReset(): void {
    this.stopFeeding();
    const job = this.job;
    if (job?.state === 'printing') {
      job.state = 'paused'; job.reason = 'firmware-reset';
      job.resume = this.machine.point(job.lines_sent, job.bytes_sent);
      void this.reader?.close(); this.reader = undefined;
      void this.checkpoint(true);
    } else void this.boardMayHaveReset();
  }

  /** The port closed (unplug, service stop, reconnect): a running job pauses at its last acknowledged line. */
  onPortClosed(shutdown: boolean): void {
    this.feeding = false;
    const job = this.job;
    // A pause still draining or parking (park not confirmed): its own checkpoint would come after the service
    // has closed the store on a stop, so the exact last acknowledged line is saved here, where saved() waits.
    if (job?.state === 'paused' && job.resume?.parked === false) {
      job.resume = { ...this.machine.point(job.lines_sent, job.bytes_sent), parked: false };
      this.saving = this.checkpoint(true);
      return;
    }
    if (job?.state !== 'printing') return;
    job.state = 'paused'; job.reason = shutdown ? 'service-restart' : 'disconnect';
    job.resume = this.machine.point(job.lines_sent, job.bytes_sent);
    void this.reader?.close(); this.reader = undefined;
    this.saving = this.checkpoint(true);
  }

  onAcked(line: JobLine): void {
    const job = this.job;
    if (!job || line.index < job.lines_sent) return; // a resent duplicate
    job.lines_sent = line.index + 1;
    job.bytes_sent = line.byteEnd;
    job.progress = job.bytes_total ? job.bytes_sent / job.bytes_total : 0;
    const e = this.machine.e;
    this.machine.apply(line.cmd);
    this.filament.apply(line.cmd);
    const layer = this.layers.next(line.cmd, e, this.machine);
    if (layer !== undefined) this.deps.emit({ event: 'layer', data: { id: this.deps.id, job: job.id, layer, z: this.machine.z! } });
    this.source?.onAcked();
    this.emitJob(false);
    void this.checkpoint(false);
  }

  onDrained(): void {
    if (!this.feeding || this.job?.state !== 'printing') return;
    this.feeding = false;
    if (this.reader?.error) this.finish('failed', 'file-read-error'); else this.finish('done');
    this.deps.setState('idle');
    this.emitJob(true);
  }

  private requireJob(): JobRecord { if (!this.job) throw notFound('Job'); return this.job; }

  private async feed(index: number, byteOffset = 0): Promise<void> {
    const job = this.requireJob();
    await this.reader?.close();
    this.reader = await JobReader.open(this.deps.files.path(job.file), index, byteOffset);
    job.state = 'printing';
    this.runStart = { at: Date.now(), progress: job.progress };
    this.feeding = true;
    this.deps.setState('printing');
    this.source = new BlockingSource(this.reader, () => job.lines_sent);
    this.deps.link()?.setSource(this.source);
    this.emitJob(true);
  }

  private finish(state: 'done' | 'cancelled' | 'failed', reason?: string): void {
    const job = this.job!;
    job.state = state;
    if (reason) job.reason = reason; else delete job.reason;
    job.ended_at = new Date().toISOString();
    if (state === 'done') job.progress = 1;
    void this.reader?.close(); this.reader = undefined;
    void this.checkpoint(true);
  }

  private emitJob(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastJobEvent < JOB_EVENT_MS) return;
    this.lastJobEvent = now;
    const info = this.info();
    if (info) this.deps.emit({ event: 'job', data: info });
  }

  private async checkpoint(force: boolean): Promise<void> {
    const now = Date.now();
    if (!this.job || (!force && now - this.lastCheckpoint < CHECKPOINT_MS)) return;
    this.lastCheckpoint = now;
    if (this.job.state === 'printing') this.job.resume = this.machine.point(this.job.lines_sent, this.job.bytes_sent);
    // Counted up to lines_sent, as the resume point: a resumed job goes on counting from the same line.
    this.job.filament_mm = this.filament.used;
    this.job.extrusion = this.filament.state();
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
