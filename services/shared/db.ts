/**
 * A small promise wrapper over node-sqlite3 (the same native module connect-sqlite3 uses, so the
 * image carries one SQLite binding) with ordered, idempotent migrations kept in `user_version`.
 */
import sqlite3 from 'sqlite3';

export type Row = Record<string, unknown>;
export type Param = string | number | bigint | null | Buffer;

export interface Db {
  run(sql: string, params?: Param[]): Promise<{ changes: number; lastID: number }>;
  get<T = Row>(sql: string, params?: Param[]): Promise<T | undefined>;
  all<T = Row>(sql: string, params?: Param[]): Promise<T[]>;
  exec(sql: string): Promise<void>;
  /** Runs fn inside BEGIN IMMEDIATE … COMMIT, rolling back on throw. Calls are serialised. */
  tx<T>(fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export async function openDb(file: string, migrations: string[]): Promise<Db> {
  const raw = await new Promise<sqlite3.Database>((resolve, reject) => {
    const d = new sqlite3.Database(file, (err) => (err ? reject(err) : resolve(d)));
  });
  // One statement at a time on this connection. In node-sqlite3's default parallel mode a write could run
  // between the steps of a read on the same connection, i.e. inside that read's snapshot; when another
  // connection (the session store) has written since, SQLite refuses the upgrade with SQLITE_BUSY at once,
  // without the busy timeout (it would deadlock otherwise): the likely cause of a logout that answered 500
  // once in a full-suite run.
  raw.serialize();
  let chain: Promise<unknown> = Promise.resolve();
  const db: Db = {
    run: (sql, params = []) => new Promise((resolve, reject) => {
      raw.run(sql, params, function (this: sqlite3.RunResult, err: Error | null) {
        if (err) reject(err); else resolve({ changes: this.changes, lastID: this.lastID });
      });
    }),
    get: <T>(sql: string, params: Param[] = []) => new Promise<T | undefined>((resolve, reject) => {
      raw.get(sql, params, (err: Error | null, row: T) => (err ? reject(err) : resolve(row)));
    }),
    all: <T>(sql: string, params: Param[] = []) => new Promise<T[]>((resolve, reject) => {
      raw.all(sql, params, (err: Error | null, rows: T[]) => (err ? reject(err) : resolve(rows)));
    }),
    exec: (sql) => new Promise((resolve, reject) => raw.exec(sql, (err) => (err ? reject(err) : resolve()))),
    tx: <T>(fn: () => Promise<T>) => {
      const next = chain.then(async () => {
        await db.exec('BEGIN IMMEDIATE');
        try { const r = await fn(); await db.exec('COMMIT'); return r; } catch (e) { await db.exec('ROLLBACK'); throw e; }
      });
      chain = next.catch(() => undefined);
      return next;
    },
    close: () => new Promise((resolve, reject) => raw.close((err) => (err ? reject(err) : resolve()))),
  };
  // WAL: readers never block the writer; busy_timeout: two processes (web, CLI) may share the file.
  await db.exec('PRAGMA journal_mode=WAL; PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON;');
  const { user_version: current } = (await db.get<{ user_version: number }>('PRAGMA user_version'))!;
  for (let v = current; v < migrations.length; v++) {
    await db.tx(async () => { await db.exec(migrations[v]!); await db.exec(`PRAGMA user_version=${v + 1}`); });
  }
  return db;
}
