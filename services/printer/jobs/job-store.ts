/**
 * Job history in the printer service's own SQLite file (<dataDir>/printer.db; the service runs as its
 * own user, so it owns this file). Progress is checkpointed about once a second, so after a kill -9
 * the job is reported from its last checkpoint — honestly "paused (service-restart)", never "printing".
 * Finished jobs are the print history (docs/contract.md "Data on the device"), kept to `historyMax`
 * entries: the oldest go when a job finishes and at startup.
 */
import { conflict, notFound } from '../../shared/errors.ts';
import { openDb, type Db, type Param } from '../../shared/db.ts';
import type { FilePrintStats, HistoryEntry, JobEvent, JobInfo, JobState } from '../../shared/ipc.ts';
import type { ExtrusionState } from './filament.ts';

/** Where to continue: the first command not acknowledged, and the machine state the file had set up by then. */
export interface ResumePoint {
  index: number;
  byteOffset: number;
  x: number | null; y: number | null; z: number | null; e: number | null;
  relativeE: boolean;
  hotend: number; bed: number; fan: number; feedrate: number | null;
  /**
   * Set by a user pause: false from the moment the park moves are sent until the firmware confirmed them
   * (M400 acknowledged = the moves are done, not just planned), then true. Absent on points not from a pause.
   */
  parked?: boolean;
}

export interface JobRecord extends JobInfo {
  resume?: ResumePoint;
  /** The printer's name when the job started (a printer may be gone, or renamed by its firmware, later). */
  printerName?: string;
  /** What the file's metadata says it uses (the slicer's figure, else computed from its moves at upload). */
  filamentEstimateMm?: number | null;
  /** The filament counter's state at the last checkpoint, so a resumed job goes on counting. */
  extrusion?: ExtrusionState;
}

/** A record as the wire sees it: the resume point and the counter's internals stay in the service. */
export function toJobInfo(j: JobRecord): JobInfo {
  const { resume: _r, printerName: _n, filamentEstimateMm: _f, extrusion: _e, ...info } = j;
  return info;
}

const FINISHED = `state IN ('done','cancelled','failed')`;

const MIGRATIONS = [
  `CREATE TABLE jobs (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     printer_id TEXT NOT NULL,
     file TEXT NOT NULL,
     state TEXT NOT NULL,
     reason TEXT,
     lines_total INTEGER NOT NULL,
     bytes_total INTEGER NOT NULL,
     lines_sent INTEGER NOT NULL DEFAULT 0,
     bytes_sent INTEGER NOT NULL DEFAULT 0,
     resume TEXT,
     started_at TEXT NOT NULL,
     ended_at TEXT,
     updated_at TEXT NOT NULL
   );
   CREATE INDEX jobs_printer ON jobs(printer_id, id);`,
  // Print history: who started a job, on which printer (by name), and the filament it used.
  `ALTER TABLE jobs ADD COLUMN user TEXT;
   ALTER TABLE jobs ADD COLUMN printer_name TEXT;
   ALTER TABLE jobs ADD COLUMN filament_mm REAL NOT NULL DEFAULT 0;
   ALTER TABLE jobs ADD COLUMN filament_estimate_mm REAL;
   ALTER TABLE jobs ADD COLUMN extrusion TEXT;
   CREATE INDEX jobs_file ON jobs(file, id);`,
  // What the firmware said during the job: host prompts, answers, notifications, action commands.
  `ALTER TABLE jobs ADD COLUMN events TEXT;`,
];

interface Row {
  id: number; printer_id: string; file: string; state: JobState; reason: string | null;
  lines_total: number; bytes_total: number; lines_sent: number; bytes_sent: number;
  resume: string | null; started_at: string; ended_at: string | null;
  user: string | null; printer_name: string | null; filament_mm: number; filament_estimate_mm: number | null; extrusion: string | null;
  events: string | null;
}

const toRecord = (r: Row): JobRecord => ({
  id: r.id, printerId: r.printer_id, file: r.file, state: r.state,
  ...(r.reason ? { reason: r.reason } : {}),
  progress: r.state === 'done' ? 1 : r.bytes_total ? r.bytes_sent / r.bytes_total : 0,
  lines_sent: r.lines_sent, lines_total: r.lines_total, bytes_sent: r.bytes_sent, bytes_total: r.bytes_total,
  eta_s: null, started_at: r.started_at,
  ...(r.ended_at ? { ended_at: r.ended_at } : {}),
  user: r.user, filament_mm: r.filament_mm,
  ...(r.resume ? { resume: JSON.parse(r.resume) as ResumePoint } : {}),
  ...(r.printer_name ? { printerName: r.printer_name } : {}),
  filamentEstimateMm: r.filament_estimate_mm,
  ...(r.extrusion ? { extrusion: JSON.parse(r.extrusion) as ExtrusionState } : {}),
  ...(r.events ? { events: JSON.parse(r.events) as JobEvent[] } : {}),
});

const seconds = (from: string, to: string) => Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 1000));

/** A finished job as the history lists it. */
export function historyEntry(r: JobRecord): HistoryEntry {
  const ended = r.ended_at ?? r.started_at;
  return {
    ...toJobInfo(r), ended_at: ended,
    printer: { id: r.printerId, name: r.printerName ?? r.printerId },
    user: r.user ?? null,
    duration_s: seconds(r.started_at, ended),
    result: r.state === 'done' ? 'completed' : r.state === 'cancelled' ? 'cancelled' : 'failed',
    filament: { used_mm: r.filament_mm ?? 0, estimated_mm: r.filamentEstimateMm ?? null },
    file_size: r.bytes_total,
  };
}

export interface JobStoreOptions {
  /** Finished jobs kept; older ones are removed (0 = keep all). */
  historyMax?: number;
}

export class JobStore {
  private tail: Promise<unknown> = Promise.resolve();
  private constructor(private readonly db: Db, private readonly opts: JobStoreOptions) {}

  /**
   * One statement at a time, in call order: node-sqlite3 runs statements on worker threads and may finish
   * them out of order, so a once-a-second "printing" checkpoint could land after the "paused" one written
   * when the port closed, and a read right after a save could miss it.
   */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }

  static async open(file: string, opts: JobStoreOptions = {}): Promise<JobStore> {
    const store = new JobStore(await openDb(file, MIGRATIONS), opts);
    if (opts.historyMax) await store.prune({ keep: opts.historyMax });
    return store;
  }

  close(): Promise<void> { return this.serial(() => this.db.close()); }

  /** Startup: a job still "printing" was interrupted by a crash or kill; it becomes resumable. */
  async markInterrupted(): Promise<number> {
    const now = new Date().toISOString();
    const r = await this.serial(() => this.db.run(`UPDATE jobs SET state='paused', reason='service-restart', updated_at=? WHERE state='printing'`, [now]));
    return r.changes;
  }

  async create(j: {
    printerId: string; file: string; linesTotal: number; bytesTotal: number;
    user?: string | undefined; printerName?: string | undefined; filamentEstimateMm?: number | null | undefined;
  }): Promise<JobRecord> {
    const now = new Date().toISOString();
    const { lastID } = await this.serial(() => this.db.run(
      `INSERT INTO jobs (printer_id, file, state, lines_total, bytes_total, started_at, updated_at, user, printer_name, filament_estimate_mm) VALUES (?,?,?,?,?,?,?,?,?,?)`,
      [j.printerId, j.file, 'printing', j.linesTotal, j.bytesTotal, now, now, j.user ?? null, j.printerName ?? null, j.filamentEstimateMm ?? null]));
    return (await this.get(lastID))!;
  }

  async save(j: JobRecord): Promise<void> {
    const now = new Date().toISOString();
    // Values are taken now, not when the statement runs: the record keeps changing meanwhile.
    const params = [j.state, j.reason ?? null, j.lines_sent, j.bytes_sent, j.resume ? JSON.stringify(j.resume) : null, j.ended_at ?? null, now,
      j.filament_mm ?? 0, j.extrusion ? JSON.stringify(j.extrusion) : null, j.events?.length ? JSON.stringify(j.events) : null, j.id];
    await this.serial(() => this.db.run(
      `UPDATE jobs SET state=?, reason=?, lines_sent=?, bytes_sent=?, resume=?, ended_at=?, updated_at=?, filament_mm=?, extrusion=?, events=? WHERE id=?`, params));
    if (this.opts.historyMax && (j.state === 'done' || j.state === 'cancelled' || j.state === 'failed')) await this.prune({ keep: this.opts.historyMax });
  }

  async get(id: number): Promise<JobRecord | undefined> {
    const r = await this.serial(() => this.db.get<Row>(`SELECT * FROM jobs WHERE id=?`, [id]));
    return r && toRecord(r);
  }

  async latest(printerId: string): Promise<JobRecord | undefined> {
    const r = await this.serial(() => this.db.get<Row>(`SELECT * FROM jobs WHERE printer_id=? ORDER BY id DESC LIMIT 1`, [printerId]));
    return r && toRecord(r);
  }

  /** Paused jobs whose printer may not be attached right now (shown as "disconnected" printers). */
  async resumable(): Promise<JobRecord[]> {
    return (await this.serial(() => this.db.all<Row>(`SELECT * FROM jobs WHERE state='paused' ORDER BY id`))).map(toRecord);
  }

  async history(limit = 50): Promise<JobRecord[]> {
    const rows = await this.serial(() => this.db.all<Row>(`SELECT * FROM jobs WHERE ${FINISHED} ORDER BY id DESC LIMIT ?`, [Math.min(Math.max(1, limit), 500)]));
    return rows.map(toRecord);
  }

  /**
   * Removes finished jobs: those that ended before `before` (ISO time), and all but the newest `keep`.
   * With neither, every finished job. A printing or paused job is never removed.
   */
  async prune(opts: { before?: string; keep?: number } = {}): Promise<number> {
    const where = [FINISHED];
    const params: Param[] = [];
    if (opts.before !== undefined) { where.push(`COALESCE(ended_at, started_at) < ?`); params.push(opts.before); }
    if (opts.keep !== undefined) { where.push(`id NOT IN (SELECT id FROM jobs WHERE ${FINISHED} ORDER BY id DESC LIMIT ?)`); params.push(opts.keep); }
    const r = await this.serial(() => this.db.run(`DELETE FROM jobs WHERE ${where.join(' AND ')}`, params));
    return r.changes;
  }

  /** Removes one finished job: 404 when there is none with this id, 409 while it is printing or paused. */
  async remove(id: number): Promise<void> {
    const job = await this.get(id);
    if (!job) throw notFound('Job');
    if (job.state === 'printing' || job.state === 'paused') throw conflict('job_active', 'This job is still printing or paused: cancel it first');
    await this.serial(() => this.db.run(`DELETE FROM jobs WHERE id=? AND ${FINISHED}`, [id]));
  }

  /**
   * Per file: finished prints that completed and that did not, the last one, and the durations of
   * completed ones (what OctoPrint keeps as a file's "prints" and "statistics"). Optionally one printer's
   * and one file's only.
   */
  async fileStats(only: { printerId?: string; file?: string } = {}): Promise<Record<string, FilePrintStats>> {
    const where = [FINISHED];
    const params: Param[] = [];
    if (only.printerId !== undefined) { where.push('printer_id=?'); params.push(only.printerId); }
    if (only.file !== undefined) { where.push('file=?'); params.push(only.file); }
    const rows = await this.serial(() => this.db.all<{ file: string; state: JobState; started_at: string; ended_at: string | null }>(
      `SELECT file, state, started_at, ended_at FROM jobs WHERE ${where.join(' AND ')} ORDER BY id`, params));
    const out: Record<string, FilePrintStats> = {};
    for (const r of rows) {
      const s = out[r.file] ??= { success: 0, failure: 0, last: { ended_at: '', success: false, duration_s: 0 }, last_success_duration_s: null, average_success_duration_s: null };
      const ended = r.ended_at ?? r.started_at;
      const duration = seconds(r.started_at, ended);
      const ok = r.state === 'done';
      if (ok) {
        s.average_success_duration_s = ((s.average_success_duration_s ?? 0) * s.success + duration) / (s.success + 1);
        s.success++;
        s.last_success_duration_s = duration;
      } else s.failure++;
      s.last = { ended_at: ended, success: ok, duration_s: duration };
    }
    return out;
  }
}
