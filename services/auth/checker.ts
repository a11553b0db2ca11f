/**
 * The PAM helper's one decision (CONTRACT.md): may this system account sign in to PrintBox?
 * PAM checks the password; then the account rules (accounts.ts), root policy and the allowed groups.
 * Every refusal is the same `unauthorized` error so the web cannot be used to probe accounts; the
 * real reason goes to the journal. Policy refusals wait as long as a PAM failure does, so timing
 * does not tell "right password, wrong group" from "wrong password".
 */
import crypto from 'node:crypto';
import { AppError } from '../shared/errors.ts';
import type { Logger } from '../shared/log.ts';
import { accountVerdict, type AccountFacts } from './accounts.ts';

/** Debian's useradd NAME_REGEX, plus the length limit of authenticate-pam's fixed 128-byte buffers. */
const USERNAME = /^[a-z_][a-z0-9_.-]{0,31}\$?$/i;
/** authenticate-pam copies into char[128] and silently truncates: longer secrets must not half-match. */
const MAX_SECRET_BYTES = 126;

export type PamAuthenticate = (username: string, password: string, service: string) => Promise<void>;

export interface PamCheckerDeps {
  service: string;
  allowedGroups: readonly string[];
  log: Logger;
  pam: PamAuthenticate;
  lookup: (username: string) => Promise<AccountFacts | null>;
  /** How long a policy refusal waits; matches pam_unix's default fail delay (2 s). */
  refusalDelayMs?: number;
  now?: () => number;
  /** HMAC key for account stamps (main.ts keeps it in a root-only file so stamps survive restarts). */
  stampKey?: Buffer;
}

export interface PamChecker {
  authenticate(username: unknown, password: unknown): Promise<{ username: string; groups: string[]; stamp: string }>;
  /** AuthApi 'account.stamp': changes whenever the password, lock/expiry state or groups change; null = may not sign in. */
  stamp(username: unknown): Promise<string | null>;
}

const refused = () => new AppError('unauthorized', 401, 'Wrong username or password');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createPamChecker(deps: PamCheckerDeps): PamChecker {
  const delay = deps.refusalDelayMs ?? 2000;
  const now = deps.now ?? Date.now;
  const key = deps.stampKey ?? crypto.randomBytes(32);
  /** Why this account may not sign in (root/group policy, pam_unix account rules), or null. */
  const refusal = (facts: AccountFacts | null): string | null => !facts ? 'account not found after PAM success'
    : facts.uid === 0 && !deps.allowedGroups.includes('root') ? 'root is not allowed (add "root" to PRINTBOX_PAM_GROUPS to allow it)'
    : !facts.groups.some((g) => deps.allowedGroups.includes(g)) ? `not a member of ${deps.allowedGroups.join(', ')}`
    : (() => { const v = accountVerdict(facts.shadow, now()); return v.ok ? null : v.reason; })();
  // The hash field changes with every password change (new salt), so the web learns "changed" without the hash.
  const stampOf = (username: string, f: AccountFacts) => crypto.createHmac('sha256', key)
    .update(JSON.stringify([username, f.uid, [...f.groups].sort(), f.shadow])).digest('base64url');
  return {
    async stamp(username) {
      if (typeof username !== 'string' || !USERNAME.test(username)) return null;
      const facts = await deps.lookup(username);
      if (!facts) return null;
      const reason = refusal(facts);
      if (reason) { deps.log.info('account.stamp', { user: username, result: 'refused', reason }); return null; }
      return stampOf(username, facts);
    },
    async authenticate(username, password) {
      if (typeof username !== 'string' || typeof password !== 'string') throw new AppError('bad_request', 400, 'username and password must be strings');
      if (!USERNAME.test(username) || password.includes('\0') || Buffer.byteLength(password, 'utf8') > MAX_SECRET_BYTES || password === '') {
        deps.log.info('refused before PAM: malformed username or password');
        await sleep(delay);
        throw refused();
      }
      const started = now();
      try {
        await deps.pam(username, password, deps.service);
      } catch (err) {
        deps.log.info('pam_authenticate', { user: username, result: 'failed', pam: String((err as Error)?.message ?? err).slice(0, 120) });
        throw refused();
      }
      const facts = await deps.lookup(username);
      const reason = refusal(facts);
      if (reason) {
        deps.log.info('pam_authenticate', { user: username, result: 'refused', reason });
        await sleep(Math.max(0, delay - (now() - started)));
        throw refused();
      }
      deps.log.info('pam_authenticate', { user: username, result: 'ok' });
      return { username, groups: facts!.groups, stamp: stampOf(username, facts!) };
    },
  };
}
