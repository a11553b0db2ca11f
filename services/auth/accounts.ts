/**
 * System-account facts the PAM helper needs beyond pam_authenticate. authenticate-pam 1.0.5 calls
 * only pam_authenticate (not pam_acct_mgmt — see its authenticate_pam.cc), so expiry and locks are
 * checked here with the same rules pam_unix's account module applies to /etc/shadow
 * (pam_unix/passverify.c check_shadow_expiry). This process runs as root; the web never does this.
 */
import { execFile } from 'node:child_process';

export interface ShadowEntry {
  hash: string;
  lastChange: number | null; // days since epoch
  maxDays: number | null;
  inactiveDays: number | null;
  expireDay: number | null;
}

export interface AccountFacts {
  uid: number;
  groups: string[];
  /** null when the account is not in /etc/shadow (e.g. a directory-service user): PAM alone decides. */
  shadow: ShadowEntry | null;
}

export type AccountVerdict = { ok: true } | { ok: false; reason: string };

const field = (s: string | undefined): number | null => (s === undefined || s === '' ? null : Number(s));

export function parseShadow(line: string): ShadowEntry | null {
  const f = line.trim().split(':');
  if (f.length < 8) return null;
  return { hash: f[1] ?? '', lastChange: field(f[2]), maxDays: field(f[4]), inactiveDays: field(f[6]), expireDay: field(f[7]) };
}

/** pam_unix account rules: locked hash, account expiry, forced change, password expiry and inactivity. */
export function accountVerdict(shadow: ShadowEntry | null, nowMs: number): AccountVerdict {
  if (!shadow) return { ok: true };
  const today = Math.floor(nowMs / 86_400_000);
  if (shadow.hash.startsWith('!')) return { ok: false, reason: 'account locked' };
  if (shadow.expireDay !== null && shadow.expireDay >= 0 && today >= shadow.expireDay) return { ok: false, reason: 'account expired' };
  if (shadow.lastChange === 0) return { ok: false, reason: 'password change required' };
  const { lastChange, maxDays, inactiveDays } = shadow;
  if (lastChange !== null && maxDays !== null && maxDays >= 0 && maxDays < 99999) {
    if (inactiveDays !== null && inactiveDays >= 0 && today > lastChange + maxDays + inactiveDays) return { ok: false, reason: 'account inactive (password expired too long ago)' };
    if (today > lastChange + maxDays) return { ok: false, reason: 'password expired' };
  }
  return { ok: true };
}

function run(cmd: string, args: string[]): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 5000 }, (err, stdout) => resolve(err ? null : stdout));
  });
}

/** Looks up uid, groups and the shadow entry through NSS (getent/id), so non-file sources work too. */
export async function lookupAccount(username: string): Promise<AccountFacts | null> {
  const [uid, groups, shadow] = await Promise.all([
    run('id', ['-u', '--', username]),
    run('id', ['-Gn', '--', username]),
    run('getent', ['shadow', '--', username]),
  ]);
  if (uid === null || groups === null) return null;
  return { uid: Number(uid.trim()), groups: groups.trim().split(/\s+/).filter(Boolean), shadow: shadow ? parseShadow(shadow) : null };
}
