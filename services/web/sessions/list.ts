/**
 * Session management: a side table beside the express-session store that records who a
 * session belongs to, from which address and browser, and when it was last used — the store's own
 * rows are opaque JSON. Users see sessions by an opaque random id; the session id (the cookie's
 * secret) never leaves the server. Ending a session destroys it in the store, so the cookie stops
 * working at once.
 */
import crypto from 'node:crypto';
import type { Db } from '../../shared/db.ts';
import { notFound } from '../../shared/errors.ts';

/** The part of express-session's Store that ending a session needs. */
export interface SessionStoreLike {
  destroy(sid: string, callback?: (err?: unknown) => void): void;
  get(sid: string, callback: (err: unknown, session?: unknown) => void): void;
}

export interface SessionInfo {
  id: string;
  username: string;
  method: string;
  ip: string;
  user_agent: string;
  created_at: string;
  last_activity: string;
}

export interface SessionService {
  /** After a successful login (the session id must already be regenerated). */
  register(sid: string, who: { username: string; method: string; ip: string; userAgent: string }): Promise<void>;
  /** Each authenticated request: refreshes last activity (at most every TOUCH_MS) and the address. */
  touch(sid: string, ip: string): Promise<void>;
  /** Logout: the store entry is destroyed by express-session itself; drop our row. */
  forget(sid: string): Promise<void>;
  list(username?: string): Promise<SessionInfo[]>;
  /** The opaque id of a session, to mark "this is you" in listings. */
  idOf(sid: string): Promise<string | undefined>;
  get(id: string): Promise<SessionInfo | undefined>;
  end(id: string): Promise<void>;
  /** Ends all of a user's sessions except `exceptSid`; returns how many ended. */
  endAllFor(username: string, exceptSid?: string): Promise<number>;
}

const TOUCH_MS = 30_000;

export interface SessionServiceDeps {
  db: Db;
  store: SessionStoreLike;
  /** The absolute session lifetime: rows older than this belong to sessions that have ended. */
  maxAgeMs?: number;
  now?: () => Date;
}

export function createSessionService(deps: SessionServiceDeps): SessionService {
  const now = deps.now ?? (() => new Date());
  const lastTouch = new Map<string, number>();
  const destroy = (sid: string) => new Promise<void>((resolve) => deps.store.destroy(sid, () => resolve()));
  const alive = (sid: string) => new Promise<boolean>((resolve) => deps.store.get(sid, (err, s) => resolve(!err && !!s)));

  async function endRows(rows: Array<{ sid: string }>): Promise<number> {
    for (const r of rows) {
      await destroy(r.sid);
      await deps.db.run('DELETE FROM user_sessions WHERE sid = ?', [r.sid]);
      lastTouch.delete(r.sid);
    }
    return rows.length;
  }

  return {
    async register(sid, who) {
      const t = now().toISOString();
      // Sessions that simply expired leave rows behind; the absolute lifetime bounds them, so prune here.
      await deps.db.run('DELETE FROM user_sessions WHERE created_at < ?', [new Date(now().getTime() - (deps.maxAgeMs ?? 7 * 86_400_000)).toISOString()]);
      await deps.db.run(`INSERT INTO user_sessions(id, sid, username, method, ip, user_agent, created_at, last_activity) VALUES (?,?,?,?,?,?,?,?)
        ON CONFLICT(sid) DO UPDATE SET username = excluded.username, method = excluded.method, ip = excluded.ip,
          user_agent = excluded.user_agent, last_activity = excluded.last_activity`,
      [crypto.randomBytes(12).toString('base64url'), sid, who.username, who.method, who.ip.slice(0, 64), who.userAgent.slice(0, 300), t, t]);
      lastTouch.set(sid, now().getTime());
    },
    async touch(sid, ip) {
      const t = now().getTime();
      if (t - (lastTouch.get(sid) ?? 0) < TOUCH_MS) return;
      lastTouch.set(sid, t);
      if (lastTouch.size > 10_000) lastTouch.delete(lastTouch.keys().next().value!);
      await deps.db.run('UPDATE user_sessions SET last_activity = ?, ip = ? WHERE sid = ?', [new Date(t).toISOString(), ip.slice(0, 64), sid]);
    },
    async forget(sid) {
      lastTouch.delete(sid);
      await deps.db.run('DELETE FROM user_sessions WHERE sid = ?', [sid]);
    },
    async list(username) {
      const rows = await deps.db.all<SessionInfo & { sid: string }>(
        `SELECT * FROM user_sessions ${username === undefined ? '' : 'WHERE username = ?'} ORDER BY last_activity DESC`,
        username === undefined ? [] : [username]);
      const out: SessionInfo[] = [];
      for (const { sid, ...info } of rows) {
        // Expired in the store (idle/max age) → gone for the user too; prune lazily here.
        if (await alive(sid)) out.push(info); else await deps.db.run('DELETE FROM user_sessions WHERE sid = ?', [sid]);
      }
      return out;
    },
    async idOf(sid) {
      return (await deps.db.get<{ id: string }>('SELECT id FROM user_sessions WHERE sid = ?', [sid]))?.id;
    },
    async get(id) {
      const r = await deps.db.get<SessionInfo & { sid: string }>('SELECT * FROM user_sessions WHERE id = ?', [id]);
      if (!r) return undefined;
      const { sid: _sid, ...info } = r;
      return info;
    },
    async end(id) {
      const rows = await deps.db.all<{ sid: string }>('SELECT sid FROM user_sessions WHERE id = ?', [id]);
      if (rows.length === 0) throw notFound('Session');
      await endRows(rows);
    },
    async endAllFor(username, exceptSid) {
      const rows = await deps.db.all<{ sid: string }>('SELECT sid FROM user_sessions WHERE username = ? AND sid != ?', [username, exceptSid ?? '']);
      return endRows(rows);
    },
  };
}
