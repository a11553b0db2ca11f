/**
 * Timelapses on disk, in <dataDir>/timelapse: per job `job-<id>.frames/` (the JPEGs while recording),
 * `job-<id>.mp4` (the video) and `job-<id>.json` (what the API lists: state, frames, encoding progress, error).
 * The JSON is written atomically, so a crash leaves either the old or the new state; after a restart the
 * recorder finishes what it finds half done (recorder.ts).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../shared/link/atomic.ts';

export type TimelapseState = 'recording' | 'encoding' | 'ready' | 'failed';

export interface TimelapseInfo {
  job: number;
  printer: string;
  file: string;
  state: TimelapseState;
  frames: number;
  /** 0..1 while encoding. */
  progress?: number;
  /** Bytes of the video once ready. */
  size?: number;
  error?: string;
  created: string;
}

export class TimelapseStore {
  readonly dir: string;
  constructor(dataDir: string) { this.dir = path.join(dataDir, 'timelapse'); }

  framesDir(job: number): string { return path.join(this.dir, `job-${job}.frames`); }
  video(job: number): string { return path.join(this.dir, `job-${job}.mp4`); }
  private meta(job: number): string { return path.join(this.dir, `job-${job}.json`); }

  async init(): Promise<void> { await fsp.mkdir(this.dir, { recursive: true, mode: 0o750 }); }

  list(): TimelapseInfo[] {
    let names: string[];
    try { names = fs.readdirSync(this.dir); } catch { return []; }
    return names.filter((n) => /^job-\d+\.json$/.test(n)).flatMap((n) => {
      try { return [JSON.parse(fs.readFileSync(path.join(this.dir, n), 'utf8')) as TimelapseInfo]; } catch { return []; }
    }).sort((a, b) => b.job - a.job);
  }

  get(job: number): TimelapseInfo | undefined { return this.list().find((t) => t.job === job); }

  async save(info: TimelapseInfo): Promise<void> {
    writeFileAtomic(this.meta(info.job), JSON.stringify(info) + '\n', { mode: 0o640 });
  }

  async remove(job: number): Promise<void> {
    await fsp.rm(this.framesDir(job), { recursive: true, force: true });
    await fsp.rm(this.video(job), { force: true });
    await fsp.rm(this.meta(job), { force: true });
  }

  /** Deletes the oldest finished videos until all of them fit in maxBytes; `keep` goes last. Returns the jobs removed. */
  async enforceQuota(maxBytes: number, keep: number): Promise<number[]> {
    const ready = this.list().filter((t) => t.state === 'ready').sort((a, b) => (a.job === keep ? 1 : b.job === keep ? -1 : a.job - b.job));
    let total = ready.reduce((n, t) => n + (t.size ?? 0), 0);
    const removed: number[] = [];
    for (const t of ready) {
      if (total <= maxBytes) break;
      await this.remove(t.job);
      total -= t.size ?? 0;
      removed.push(t.job);
    }
    return removed;
  }
}
