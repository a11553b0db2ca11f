/**
 * Records a timelapse of every print while timelapses are on and a camera is there: a frame from the camera's
 * snapshot at each layer the printer confirms (its `layer` events) or every N seconds while printing (not while
 * paused), then, when the job ends however it ends, one video (encoder.ts) — one encode at a time, queued.
 * It only listens to the printer service's events and reads the camera: nothing here can hold up the print.
 * A frame is skipped, never queued, while the previous one is still being fetched, and recording stops taking
 * frames when the disk runs low. After a web restart, videos left half-encoded are encoded again and recordings
 * of jobs that ended meanwhile are finished.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { JobInfo, PrinterEvent } from '../../shared/ipc.ts';
import type { Logger } from '../../shared/log.ts';
import type { Cameras } from '../camera/cameras.ts';
import { encode } from './encoder.ts';
import type { TimelapseSettingsStore } from './settings.ts';
import type { TimelapseInfo, TimelapseStore } from './store.ts';

/** Below this much free space on the data partition no more frames are taken. */
const MIN_FREE_BYTES = 256 * 1024 * 1024;
/** A day of 10-second frames; a runaway layer count (vase mode at 0.05 mm) stops here. */
const MAX_FRAMES = 20_000;
const ENDED = new Set(['done', 'failed', 'cancelled']);

interface Session { info: TimelapseInfo; paused: boolean; busy: boolean; timer?: NodeJS.Timeout }

export interface RecorderDeps {
  store: TimelapseStore;
  settings: TimelapseSettingsStore;
  cameras?: Cameras;
  log: Logger;
  /** The job's current state when the recorder is unsure (after a restart); undefined when unknown. */
  jobState: (job: number, printerId: string) => Promise<string | undefined>;
  ffmpeg?: string;
}

export class TimelapseRecorder {
  private sessions = new Map<number, Session>();
  private decided = new Set<number>();
  private queue: number[] = [];
  private encoding: Promise<void> | undefined;

  constructor(private readonly deps: RecorderDeps) {}

  /** Re-queues interrupted encodes and settles recordings whose job ended while the web was down. */
  async start(): Promise<void> {
    await this.deps.store.init();
    for (const t of this.deps.store.list()) {
      if (t.state === 'encoding') this.enqueue(t.job);
      else if (t.state === 'recording') {
        // Unknown (the printer service not up yet): recording goes on until the job's next event says otherwise.
        const state = await this.deps.jobState(t.job, t.printer).catch(() => undefined);
        if (state === undefined || state === 'printing' || state === 'paused') this.sessions.set(t.job, this.session(t, state === 'paused'));
        else await this.finish(t);
      }
    }
  }

  /** A print is being recorded into this job's timelapse right now. */
  recording(job: number): boolean { return this.sessions.has(job); }

  stop(): void { for (const s of this.sessions.values()) clearInterval(s.timer); this.sessions.clear(); }

  /** Every printer event passes here (main.ts subscribes once). */
  onEvent(e: PrinterEvent): void {
    if (e.event === 'job') void this.onJob(e.data).catch((err) => this.deps.log.warn('timelapse: job event', { error: String(err) }));
    else if (e.event === 'layer') {
      const s = this.sessions.get(e.data.job);
      if (s && this.deps.settings.get().mode === 'layer') void this.capture(s);
    }
  }

  /** Resolves when nothing is being encoded or queued (tests, shutdown). */
  async idle(): Promise<void> { while (this.encoding) await this.encoding; }

  private async onJob(job: JobInfo): Promise<void> {
    const s = this.sessions.get(job.id);
    if (s) {
      if (ENDED.has(job.state)) { this.sessions.delete(job.id); clearInterval(s.timer); await this.finish(s.info); }
      else s.paused = job.state === 'paused';
      return;
    }
    // Decided at the job's first event seen while printing (they come 4 times a second), not at each: a print
    // found without camera or with timelapses off is not picked up halfway when that changes.
    if (ENDED.has(job.state)) { this.decided.delete(job.id); return; }
    if (job.state !== 'printing' || this.decided.has(job.id)) return;
    this.decided.add(job.id);
    const settings = this.deps.settings.get();
    const camera = this.camera();
    if (!settings.enabled || !camera || this.deps.store.get(job.id)) return;
    const info: TimelapseInfo = { job: job.id, printer: job.printerId, file: job.file, state: 'recording', frames: 0, created: new Date().toISOString() };
    await fsp.mkdir(this.deps.store.framesDir(job.id), { recursive: true });
    await this.deps.store.save(info);
    this.sessions.set(job.id, this.session(info, false));
    this.deps.log.info('timelapse: recording', { job: job.id, camera, mode: settings.mode });
  }

  private session(info: TimelapseInfo, paused: boolean): Session {
    const settings = this.deps.settings.get();
    const s: Session = { info, paused, busy: false };
    if (settings.mode === 'interval') s.timer = setInterval(() => { if (!s.paused) void this.capture(s); }, settings.intervalS * 1000);
    return s;
  }

  private camera(): string | undefined {
    const ids = this.deps.cameras?.ids() ?? [];
    const chosen = this.deps.settings.get().camera;
    return chosen ? (ids.includes(chosen) ? chosen : undefined) : ids[0];
  }

  private async capture(s: Session): Promise<void> {
    const camera = this.camera();
    if (s.busy || !camera || !this.deps.cameras || s.info.frames >= MAX_FRAMES) return;
    s.busy = true;
    try {
      const free = await fsp.statfs(this.deps.store.dir).then((st) => st.bavail * st.bsize).catch(() => Infinity);
      if (free < MIN_FREE_BYTES) { this.deps.log.warn('timelapse: disk almost full, frame skipped', { job: s.info.job, free }); return; }
      const jpeg = await this.deps.cameras.snapshot(camera);
      const n = s.info.frames + 1;
      await fsp.writeFile(path.join(this.deps.store.framesDir(s.info.job), `frame-${String(n).padStart(5, '0')}.jpg`), jpeg);
      s.info.frames = n;
      await this.deps.store.save(s.info);
    } catch (e) {
      this.deps.log.warn('timelapse: frame skipped', { job: s.info.job, error: (e as Error).message });
    } finally {
      s.busy = false;
    }
  }

  private async finish(info: TimelapseInfo): Promise<void> {
    info.frames = countFrames(this.deps.store.framesDir(info.job));
    if (info.frames < 2) {
      // A print that ended before its second frame: nothing worth a video.
      await this.deps.store.remove(info.job);
      return;
    }
    info.state = 'encoding'; info.progress = 0;
    await this.deps.store.save(info);
    this.enqueue(info.job);
  }

  private enqueue(job: number): void {
    this.queue.push(job);
    if (!this.encoding) this.encoding = this.drain().finally(() => { this.encoding = undefined; });
  }

  private async drain(): Promise<void> {
    for (let job = this.queue.shift(); job !== undefined; job = this.queue.shift()) {
      const info = this.deps.store.get(job);
      if (!info) continue; // deleted while queued
      const { fps, maxMb } = this.deps.settings.get();
      let saved = 0;
      try {
        await encode({
          framesDir: this.deps.store.framesDir(job), frames: info.frames, fps, out: this.deps.store.video(job), ffmpeg: this.deps.ffmpeg,
          onProgress: (p) => { info.progress = p; if (Date.now() - saved > 1000) { saved = Date.now(); void this.deps.store.save(info); } },
        });
        if (!this.deps.store.get(job)) { await this.deps.store.remove(job); continue; } // deleted while encoding
        info.state = 'ready'; info.size = fs.statSync(this.deps.store.video(job)).size; delete info.progress;
        await fsp.rm(this.deps.store.framesDir(job), { recursive: true, force: true });
        await this.deps.store.save(info);
        const removed = await this.deps.store.enforceQuota(maxMb * 1024 * 1024, job);
        if (removed.length) this.deps.log.info('timelapse: quota reached, oldest removed', { removed });
        this.deps.log.info('timelapse: ready', { job, frames: info.frames, size: info.size });
      } catch (e) {
        if (!this.deps.store.get(job)) continue; // deleted while encoding
        info.state = 'failed'; info.error = (e as Error).message; delete info.progress;
        await this.deps.store.save(info);
        this.deps.log.warn('timelapse: encoding failed (frames kept)', { job, error: info.error });
      }
    }
  }
}

function countFrames(dir: string): number {
  try { return fs.readdirSync(dir).filter((n) => /^frame-\d{5}\.jpg$/.test(n)).length; } catch { return 0; }
}
