/**
 * The PAM helper's one decision (CONTRACT.md): may this system account sign in to PrintBox?
 * PAM checks the password; then the account rules (accounts.ts), root policy and the allowed groups.
 * Every refusal is the same `unauthorized` error so the web cannot be used to probe accounts; the
 * real reason goes to the journal. Policy refusals wait as long as a PAM failure does, so timing
 * does not tell "right password, wrong group" from "wrong password".
 */
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
}

export interface PamChecker {
  authenticate(username: unknown, password: unknown): Promise<{ username: string; groups: string[] }>;
}

const refused = () => new AppError('unauthorized', 401, 'Wrong username or password');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createPamChecker(deps: PamCheckerDeps): PamChecker {
  const delay = deps.refusalDelayMs ?? 2000;
  const now = deps.now ?? Date.now;
  return {
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
      const reason = !facts ? 'account not found after PAM success'
        : facts.uid === 0 && !deps.allowedGroups.includes('root') ? 'root is not allowed (add "root" to PRINTBOX_PAM_GROUPS to allow it)'
        : !facts.groups.some((g) => deps.allowedGroups.includes(g)) ? `not a member of ${deps.allowedGroups.join(', ')}`
        : (() => { const v = accountVerdict(facts.shadow, now()); return v.ok ? null : v.reason; })();
      if (reason) {
        deps.log.info('pam_authenticate', { user: username, result: 'refused', reason });
        await sleep(Math.max(0, delay - (now() - started)));
        throw refused();
      }
      deps.log.info('pam_authenticate', { user: username, result: 'ok' });
      return { username, groups: facts!.groups };
    },
  };
}
