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
 * A stream opened with an API key ends the same way with its key (bindStreamToApiKey): at once on
 * revocation (ApiKeyService.onRevoke → endKey), and on a timer at the key's expiry.
 * Either ends too when its credential loses the permission the stream was opened with (a custom role
 * edited, 2FA enforced or reset): Security.onPermissionsChanged re-checks every open stream at once.
 * The session itself stays; the client's reconnect gets 403.
 */
import type { Request } from 'express';
import { AppError } from '../../shared/errors.ts';
import type { WebDeps } from '../deps.ts';
import type { Permission } from '../../shared/permissions.ts';
import type { Principal } from '../permissions.ts';
import { endChangedSession, principalForSession } from '../principal.ts';
import { authOf, destroy, sessionEndsAt } from './cookie.ts';

/** The account re-check is cached per PRINTBOX_ACCOUNT_RECHECK_S anyway; never wait longer than this. */
const MAX_RECHECK_MS = 10_000;

const loadSession = (store: WebDeps['sessionStore'], sid: string) => new Promise<unknown>((resolve, reject) => {
  store.get(sid, (err, data) => (err ? reject(err) : resolve(data)));
});

/**
 * What both bindings share: a re-check of the credential on a timer and on every permission change
 * (Security.onPermissionsChanged), and one release that stops both and unregisters the stream.
 */
function recheckLoop(deps: WebDeps, unregister: () => void, check: () => Promise<void>) {
  let released = false;
  let timer: NodeJS.Timeout | undefined;
  const unwatch = deps.security?.onPermissionsChanged(() => void check()) ?? (() => undefined);
  return {
    get released() { return released; },
    /** The next timed re-check in `ms`; replaces a pending one (a permission change re-checked early). */
    after(ms: number) {
      if (released) return;
      clearTimeout(timer);
      timer = setTimeout(() => void check(), Math.max(0, ms));
    },
    release() {
      released = true;
      clearTimeout(timer);
      unregister();
      unwatch();
    },
  };
}

/**
 * Ties an open stream to the session of `req` until the returned release function is called (when
 * the stream closes). `end` is called once the session is over, after it has been destroyed — so
 * express-session cannot write it back when the stream's response ends (store.ts). Streams
 * opened with an API key or from the machine itself have no session and are not watched.
 */
export function bindStreamToSession(req: Request, deps: WebDeps, permission: Permission, end: () => void): () => void {
  const opened = authOf(req.session);
  if (!opened) return () => undefined;
  const sid = req.sessionID;
  const now = deps.now ?? Date.now;
  const recheckMs = Math.min(MAX_RECHECK_MS, deps.config.accountRecheckS * 1000);
  const loop = recheckLoop(deps, deps.streams?.add(sid, end) ?? (() => undefined), check);
  // +1: wake just after the limit, when currentAuth() would also call the session over
  const schedule = (endsAt: number) => loop.after(Math.min(recheckMs, endsAt - now() + 1));
  const over = async (reason: string) => {
    deps.log.debug('event stream ends with its session', { reason });
    await destroy(req);
    end();
  };
  async function check(): Promise<void> {
    try {
      const auth = authOf(await loadSession(deps.sessionStore, sid));
      if (loop.released) return;
      if (!auth) return await over('session gone');
      const endsAt = sessionEndsAt(auth, deps.config);
      if (now() > endsAt) return await over('session expired');
      if (auth.accountStamp && deps.accountCheck && !(await deps.accountCheck.stillValid(sid, auth.user, auth.accountStamp))) {
        if (loop.released) return;
        await endChangedSession(req, deps, auth.user);
        end();
        return;
      }
      if (!(await principalForSession(auth, deps)).permissions.has(permission)) {
        if (loop.released) return;
        deps.log.debug('event stream ends: its session lost the permission', { permission });
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
  return () => loop.release();
}

/** A key stream re-checks its key at least this often (also keeps setTimeout far from its 24.8-day limit). */
const KEY_RECHECK_MS = 60_000;

/**
 * Ties an open stream opened with an API key to that key until the returned release function is
 * called. `end` is called when the key is revoked (endKey, at once) or when a re-check — at the
 * expiry, and every KEY_RECHECK_MS — finds it no longer valid: the same authenticate() each request
 * goes through. Streams of sessions or of the machine itself are not watched here.
 */
export function bindStreamToApiKey(req: Request, principal: Principal | null, deps: WebDeps, permission: Permission, end: () => void): () => void {
  const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
  return bindToApiKey(bearer, principal, deps, permission, end);
}

/** As bindStreamToApiKey, for a key that did not come as `Authorization: Bearer` (OctoPrint's X-Api-Key, octoprint/push-auth.ts). */
export function bindToApiKey(bearer: string | undefined, principal: Principal | null, deps: WebDeps, permission: Permission, end: () => void): () => void {
  const key = principal?.method === 'apikey' ? principal.apiKey : undefined;
  const apiKeys = deps.apiKeys;
  if (!key || !bearer || !apiKeys) return () => undefined;
  const now = deps.now ?? Date.now;
  const loop = recheckLoop(deps, deps.streams?.addKey(key.id, end) ?? (() => undefined), check);
  // +1: wake just after the expiry, when authenticate() calls the key expired
  const schedule = () => loop.after(Math.min(KEY_RECHECK_MS, key.expiresAt === null ? KEY_RECHECK_MS : key.expiresAt - now() + 1));
  async function check(): Promise<void> {
    try {
      const current = await apiKeys!.authenticate(bearer!);
      if (loop.released) return;
      if (!current.permissions.has(permission)) {
        deps.log.debug('event stream ends: its API key lost the permission', { key: key!.id, permission });
        end();
        return;
      }
      schedule();
    } catch (err) {
      if (loop.released) return;
      if (err instanceof AppError && err.status === 401) {
        deps.log.debug('event stream ends with its API key', { key: key!.id, reason: err.code });
        end();
        return;
      }
      deps.log.warn('cannot re-check the API key of an event stream', { error: String((err as Error)?.message ?? err) });
      schedule();
    }
  }
  schedule();
  return () => loop.release();
}
