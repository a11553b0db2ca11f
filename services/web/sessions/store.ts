/**
 * The session store: connect-sqlite3 on its own connection to the data dir's database, wrapped so
 * that a destroyed session stays destroyed — in SQLite, not only in this process's memory.
 *
 * express-session saves (or touches) a session at the end of every request that loaded it. A request
 * still in flight when logout — or "end this session", expiry, an account change — destroys the session
 * must not write it back, or the cookie works again. Two interleavings did that:
 * - the save is issued after the destroy: TombstoneStore refuses writes to a destroyed id for as long
 *   as the id could still be valid (ids are random and never reused, so refusing is safe);
 * - the save is issued just before the destroy, and node-sqlite3 — whose connections run statements in
 *   parallel unless told otherwise — executes the DELETE first and the INSERT OR REPLACE after it. The
 *   row is back in the table; this process hides it behind its tombstone, but after a restart the
 *   logged-out cookie signed in again. The store's connection is therefore serialized: statements
 *   run in the order they were issued, so every write issued before a destroy lands before its DELETE.
 */
import { createRequire } from 'node:module';
import session, { type SessionData, type Store } from 'express-session';
import sqlite3 from 'sqlite3';

const require = createRequire(import.meta.url);
type SqliteStoreCtor = new (opts: { db: sqlite3.Database; table: string }) => Store;
const connectSqlite = require('connect-sqlite3') as (s: typeof session) => SqliteStoreCtor;

export interface SessionStoreHandle {
  store: TombstoneStore;
  close(): Promise<void>;
}

/**
 * Opens the session table in `dbFile` (shared with the web's other tables, hence the busy timeout: it
 * waits for their writers). `keepMs`: how long a destroyed id is refused, at least the sessions' absolute lifetime.
 */
export function openSessionStore(dbFile: string, keepMs: number): SessionStoreHandle {
  const db = new sqlite3.Database(dbFile);
  db.configure('busyTimeout', 5000);
  db.serialize(); // statement order = issue order: see the header
  const SQLiteStore = connectSqlite(session);
  const store = new TombstoneStore(new SQLiteStore({ db, table: 'sessions' }), keepMs);
  return { store, close: () => new Promise<void>((resolve, reject) => db.close((err) => (err ? reject(err) : resolve()))) };
}

type Cb = (err?: unknown) => void;

export class TombstoneStore extends session.Store {
  private readonly gone = new Map<string, number>(); // sid → forget-after (ms epoch)
  private readonly destroyListeners: Array<(sid: string) => void> = [];

  constructor(private readonly inner: Store, private readonly keepMs: number, private readonly now: () => number = Date.now) {
    super();
  }

  private isGone(sid: string): boolean {
    const until = this.gone.get(sid);
    return until !== undefined && until > this.now();
  }

  private bury(sid: string): void {
    const now = this.now();
    for (const [s, until] of this.gone) if (until <= now) this.gone.delete(s);
    this.gone.set(sid, now + this.keepMs);
  }

  override get(sid: string, cb: (err: unknown, s?: SessionData | null) => void): void {
    if (this.isGone(sid)) { cb(null, null); return; }
    this.inner.get(sid, cb);
  }

  override set(sid: string, s: SessionData, cb?: Cb): void {
    if (this.isGone(sid)) { cb?.(); return; }
    this.inner.set(sid, s, cb);
  }

  override touch(sid: string, s: SessionData, cb?: () => void): void {
    if (this.isGone(sid)) { cb?.(); return; }
    if (this.inner.touch) this.inner.touch(sid, s, cb); else cb?.();
  }

  /**
   * Told every session id that is destroyed (logout, "end this session", expiry, account change):
   * what outlives the requests of a session, such as its open event streams, ends with it.
   */
  onDestroy(listener: (sid: string) => void): void {
    this.destroyListeners.push(listener);
  }

  override destroy(sid: string, cb?: Cb): void {
    this.bury(sid);
    for (const l of this.destroyListeners) l(sid);
    this.inner.destroy(sid, cb);
  }

  override all(cb: (err: unknown, obj?: SessionData[] | { [sid: string]: SessionData } | null) => void): void {
    if (this.inner.all) this.inner.all(cb); else cb(null, null);
  }

  override length(cb: (err: unknown, length?: number) => void): void {
    if (this.inner.length) this.inner.length(cb); else cb(null, 0);
  }

  override clear(cb?: Cb): void {
    if (this.inner.clear) this.inner.clear(cb); else cb?.();
  }
}
