/**
 * Wraps the session store so a destroyed session stays destroyed. express-session saves (or
 * touches) a session at the end of every request that loaded it; a request still in flight when
 * logout — or "end this session" — destroys the row would otherwise write it back and revive the
 * cookie (found by the browser tests, test/integration/ui-logout-race.test.ts). Session ids are
 * random and never reused, so refusing writes to a destroyed id for as long as it could still be
 * valid is safe. One web process owns the store, so an in-memory list is enough.
 */
import session, { type SessionData, type Store } from 'express-session';

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
