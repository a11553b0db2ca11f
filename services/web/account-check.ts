/**
 * A PAM session ends when its account changes outside PrintBox — password changed with
 * passwd over SSH, account locked or expired, removed from the allowed groups. The auth helper answers
 * 'account.stamp' (an HMAC over the shadow entry and groups; the web never sees /etc/shadow); the
 * session keeps the stamp from login and this compares it at most every `intervalMs` per session.
 * If the helper does not answer, sessions go on (a helper restart must not sign everyone out).
 */
import type { AuthApi } from '../shared/ipc.ts';
import type { IpcClient } from '../shared/ipc-transport.ts';
import type { Logger } from '../shared/log.ts';

export interface AccountCheckDeps {
  pam: Pick<IpcClient<AuthApi>, 'call'>;
  intervalMs: number;
  log: Logger;
  now?: () => number;
}

export interface AccountCheck {
  /** false = the account changed or may no longer sign in: end the session. */
  stillValid(sid: string, username: string, stamp: string): Promise<boolean>;
  forget(sid: string): void;
}

/** Bounds the in-memory map; an evicted session is simply checked again on its next request. */
const MAX_ENTRIES = 10_000;
/** A stamp check must not hold a request for the IPC client's default 15 s. */
const CALL_TIMEOUT_MS = 3000;

export function createAccountCheck(deps: AccountCheckDeps): AccountCheck {
  const now = deps.now ?? Date.now;
  const checkedAt = new Map<string, number>();               // sid → last time the stamp was asked for
  const inFlight = new Map<string, Promise<boolean>>();      // concurrent requests of one session share one call

  async function ask(sid: string, username: string, stamp: string): Promise<boolean> {
    try {
      const r = await deps.pam.call('account.stamp', { username }, CALL_TIMEOUT_MS);
      if (r.stamp === stamp) return true;
      deps.log.info('account changed, ending session', { user: username, reason: r.stamp === null ? 'may no longer sign in' : 'password, lock or groups changed' });
      return false;
    } catch (err) {
      deps.log.warn('account check unavailable, session continues', { user: username, error: String((err as Error)?.message ?? err) });
      return true;
    } finally {
      checkedAt.delete(sid); // re-insert at the end so the oldest entries are evicted first
      checkedAt.set(sid, now());
      if (checkedAt.size > MAX_ENTRIES) checkedAt.delete(checkedAt.keys().next().value!);
    }
  }

  return {
    async stillValid(sid, username, stamp) {
      const last = checkedAt.get(sid);
      if (last !== undefined && now() - last < deps.intervalMs) return true;
      const pending = inFlight.get(sid);
      if (pending) return pending;
      const p = ask(sid, username, stamp).finally(() => inFlight.delete(sid));
      inFlight.set(sid, p);
      return p;
    },
    forget(sid) { checkedAt.delete(sid); },
  };
}
