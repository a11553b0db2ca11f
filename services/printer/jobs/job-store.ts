/**
 * Job history in the printer service's own SQLite file (<dataDir>/printer.db; the service runs as its
 * own user, so it owns this file). Progress is checkpointed about once a second, so after a kill -9
 * the job is reported from its last checkpoint — honestly "paused (service-restart)", never "printing".
 */
import { openDb, type Db } from '../../shared/db.ts';
import type { JobInfo, JobState } from '../../shared/ipc.ts';

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

export interface JobRecord extends JobInfo { resume?: ResumePoint }

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
];

interface Row {
  id: number; printer_id: string; file: string; state: JobState; reason: string | null;
  lines_total: number; bytes_total: number; lines_sent: number; bytes_sent: number;
  resume: string | null; started_at: string; ended_at: string | null;
}

const toRecord = (r: Row): JobRecord => ({
  id: r.id, printerId: r.printer_id, file: r.file, state: r.state,
  ...(r.reason ? { reason: r.reason } : {}),
  progress: r.bytes_total ? r.bytes_sent / r.bytes_total : 0,
  lines_sent: r.lines_sent, lines_total: r.lines_total, bytes_sent: r.bytes_sent, bytes_total: r.bytes_total,
  eta_s: null, started_at: r.started_at,
  ...(r.ended_at ? { ended_at: r.ended_at } : {}),
  ...(r.resume ? { resume: JSON.parse(r.resume) as ResumePoint } : {}),
});

export class JobStore {
  private tail: Promise<unknown> = Promise.resolve();
  private constructor(private readonly db: Db) {}

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

  static async open(file: string): Promise<JobStore> { return new JobStore(await openDb(file, MIGRATIONS)); }

  close(): Promise<void> { return this.serial(() => this.db.close()); }

  /** Startup: a job still "printing" was interrupted by a crash or kill; it becomes resumable. */
  async markInterrupted(): Promise<number> {
    const now = new Date().toISOString();
    const r = await this.serial(() => this.db.run(`UPDATE jobs SET state='paused', reason='service-restart', updated_at=? WHERE state='printing'`, [now]));
    return r.changes;
  }

  async create(j: { printerId: string; file: string; linesTotal: number; bytesTotal: number }): Promise<JobRecord> {
    const now = new Date().toISOString();
    const { lastID } = await this.serial(() => this.db.run(
      `INSERT INTO jobs (printer_id, file, state, lines_total, bytes_total, started_at, updated_at) VALUES (?,?,?,?,?,?,?)`,
      [j.printerId, j.file, 'printing', j.linesTotal, j.bytesTotal, now, now]));
    return (await this.get(lastID))!;
  }

  async save(j: JobRecord): Promise<void> {
    const now = new Date().toISOString();
    // Values are taken now, not when the statement runs: the record keeps changing meanwhile.
    const params = [j.state, j.reason ?? null, j.lines_sent, j.bytes_sent, j.resume ? JSON.stringify(j.resume) : null, j.ended_at ?? null, now, j.id];
    await this.serial(() => this.db.run(
      `UPDATE jobs SET state=?, reason=?, lines_sent=?, bytes_sent=?, resume=?, ended_at=?, updated_at=? WHERE id=?`, params));
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
    const rows = await this.serial(() => this.db.all<Row>(`SELECT * FROM jobs WHERE state IN ('done','cancelled','failed') ORDER BY id DESC LIMIT ?`, [Math.min(Math.max(1, limit), 500)]));
    return rows.map(toRecord);
  }
}
