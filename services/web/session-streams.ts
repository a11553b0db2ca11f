/**
 * A response that stays open — the GET /api/events stream — must end with the session that opened
 * it. Requests are checked one by one (principal.ts), but a stream is authorised once, at its start:
 * without this, after logout, "end this session", expiry or an account change every further request
 * got 401 while the open stream kept delivering printer events.
 *
 * Two ways a stream learns its session ended:
 * - at once, when the session is destroyed in the store (TombstoneStore.onDestroy → endSession);
 * - by re-checking the stored session on a timer, for ends nothing destroys: the idle or absolute
 *   limit passing while only the stream is open, or the PAM account changing (account-check.ts).
 */
import type { Request } from 'express';
import type { WebDeps } from './deps.ts';
import { endChangedSession } from './principal.ts';
import { authOf, destroy, sessionEndsAt } from './session.ts';

export interface SessionStreams {
  /** Registers an open stream of session `sid`; `end` closes it. Returns the unregister function. */
  add(sid: string, end: () => void): () => void;
  /** Ends every open stream of a session that was destroyed; returns how many. */
  endSession(sid: string): number;
  readonly size: number;
}

export function createSessionStreams(): SessionStreams {
  const bySid = new Map<string, Set<() => void>>();
  return {
    add(sid, end) {
      let set = bySid.get(sid);
      if (!set) bySid.set(sid, (set = new Set()));
      set.add(end);
      return () => {
        set.delete(end);
        if (set.size === 0 && bySid.get(sid) === set) bySid.delete(sid);
      };
    },
    endSession(sid) {
      const set = bySid.get(sid);
      if (!set) return 0;
      bySid.delete(sid);
      const ends = [...set];
      for (const end of ends) end();
      return ends.length;
    },
    get size() { let n = 0; for (const s of bySid.values()) n += s.size; return n; },
  };
}

/** The account re-check is cached per PRINTBOX_ACCOUNT_RECHECK_S anyway; never wait longer than this. */
const MAX_RECHECK_MS = 10_000;

const loadSession = (store: WebDeps['sessionStore'], sid: string) => new Promise<unknown>((resolve, reject) => {
  store.get(sid, (err, data) => (err ? reject(err) : resolve(data)));
});

/**
 * Ties an open stream to the session of `req` until the returned release function is called (when
 * the stream closes). `end` is called once the session is over, after it has been destroyed — so
 * express-session cannot write it back when the stream's response ends (session-store.ts). Streams
 * opened with an API key or from the machine itself have no session and are not watched.
 */
export function bindStreamToSession(req: Request, deps: WebDeps, end: () => void): () => void {
  const opened = authOf(req.session);
  if (!opened) return () => undefined;
  const sid = req.sessionID;
  const now = deps.now ?? Date.now;
  const recheckMs = Math.min(MAX_RECHECK_MS, deps.config.accountRecheckS * 1000);
  const unregister = deps.streams?.add(sid, end) ?? (() => undefined);
  let released = false;
  let timer: NodeJS.Timeout | undefined;

  const schedule = (endsAt: number) => {
    if (released) return;
    // +1: wake just after the limit, when currentAuth() would also call the session over
    timer = setTimeout(() => void check(), Math.max(0, Math.min(recheckMs, endsAt - now() + 1)));
  };
  const over = async (reason: string) => {
    deps.log.debug('event stream ends with its session', { reason });
    await destroy(req);
    end();
  };
  async function check(): Promise<void> {
    try {
      const auth = authOf(await loadSession(deps.sessionStore, sid));
      if (released) return;
      if (!auth) return await over('session gone');
      const endsAt = sessionEndsAt(auth, deps.config);
      if (now() > endsAt) return await over('session expired');
      if (auth.accountStamp && deps.accountCheck && !(await deps.accountCheck.stillValid(sid, auth.user, auth.accountStamp))) {
        if (released) return;
        await endChangedSession(req, deps, auth.user);
        end();
        return;
      }
      schedule(endsAt);
    } catch (err) {
      deps.log.warn('cannot re-check the session of an event stream', { error: String((err as Error)?.message ?? err) });
      schedule(now() + recheckMs);
    }
  }
  schedule(sessionEndsAt(opened, deps.config));
  return () => {
    released = true;
    clearTimeout(timer);
    unregister();
  };
}
