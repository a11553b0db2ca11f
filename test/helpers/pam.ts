/**
 * Real system accounts for PAM tests: created with useradd + chpasswd, removed afterwards.
 * Names are random (pbt_xxxxxx) so parallel runs never collide; nothing here touches existing users.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';

export interface TestUser {
  name: string;
  password: string;
  remove(): void;
}

const run = (cmd: string, args: string[], input?: string) => execFileSync(cmd, args, { input, stdio: ['pipe', 'pipe', 'pipe'] }).toString();

export function groupExists(name: string): boolean {
  try { run('getent', ['group', name]); return true; } catch { return false; }
}

/**
 * Makes sure the system group `name` exists (scripts/setup.sh test creates `printbox` too). The
 * returned cleanup deliberately leaves it: several suites share it, and deleting it under a
 * concurrently running suite silently drops its test accounts' membership.
 */
export function ensureGroup(name: string): () => void {
  if (!groupExists(name)) {
    try { run('groupadd', ['--system', name]); } catch { if (!groupExists(name)) throw new Error(`cannot create group ${name}`); }
  }
  return () => undefined;
}

/** Creates a new group `name` (fails if it exists) for one suite; the returned function deletes it. */
export function createGroup(name: string): () => void {
  run('groupadd', [name]);
  return () => { try { run('groupdel', [name]); } catch { /* already gone */ } };
}

export interface CreateUserOptions {
  groups?: string[];
  /** A second account with uid 0 (useradd -o -u 0): proves "root refused" is about uid 0, not the name. */
  uid0?: boolean;
  password?: string;
}

/**
 * A uid-0 alias left behind by a killed test run is a root login with a known password: remove any
 * before creating accounts (once per process). Only uid-0 pbt_ accounts — ordinary leftovers are harmless.
 */
let staleChecked = false;
function removeStaleUid0Aliases(): void {
  if (staleChecked) return;
  staleChecked = true;
  for (const line of run('getent', ['passwd']).split('\n')) {
    const [name, , uid] = line.split(':');
    if (name?.startsWith('pbt_') && uid === '0') { try { run('userdel', ['-f', name]); } catch { /* raced */ } }
  }
}

export function createUser(opts: CreateUserOptions = {}): TestUser {
  removeStaleUid0Aliases();
  const name = `pbt_${crypto.randomBytes(3).toString('hex')}`;
  const password = opts.password ?? `Pw-${crypto.randomBytes(9).toString('base64url')}`;
  const args = ['--no-create-home', '--no-user-group', '--shell', '/usr/sbin/nologin'];
  if (opts.groups?.length) args.push('--groups', opts.groups.join(','));
  if (opts.uid0) args.push('--non-unique', '--uid', '0', '--gid', '0');
  run('useradd', [...args, name]);
  run('chpasswd', [], `${name}:${password}\n`);
  return {
    name,
    password,
    // -f: a uid-0 alias always "has running processes" (everything root runs), which userdel would refuse
    remove: () => { try { run('userdel', ['-f', name]); } catch { /* already gone */ } },
  };
}

/** usermod wrappers for account-state tests. */
export const expireAccount = (name: string) => run('usermod', ['--expiredate', '1970-01-02', name]);
export const lockAccount = (name: string) => run('usermod', ['--lock', name]);
