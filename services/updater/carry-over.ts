/**
 * What makes this card this device, copied from the running slot into the one just written (RAUC's
 * post-install handler calls it with the new slot mounted): the accounts (accounts.ts), the name,
 * timezone, keyboard and locale, the machine id and SSH host keys (a client would otherwise see a new
 * host), Wi-Fi profiles, the admin's printbox.env and root's authorized keys. Uploaded files, databases
 * and homes are on the data partition and need no copy. A file the running slot lacks stays as the new
 * slot has it; ownership and mode come with each file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { mergeAccounts, type AccountFiles } from './accounts.ts';

/** Paths relative to the root; one ending in / copies the directory's entries, one ending in * those with that prefix. */
export const IDENTITY = [
  'etc/hostname', 'etc/hosts', 'etc/localtime', 'etc/timezone', 'etc/machine-id', 'var/lib/dbus/machine-id',
  'etc/default/keyboard', 'etc/vconsole.conf', 'etc/default/locale', 'etc/subuid', 'etc/subgid',
  'etc/ssh/ssh_host_*', 'etc/NetworkManager/system-connections/', 'etc/printbox/printbox.env', 'root/.ssh/',
] as const;

const ACCOUNT_FILES = ['passwd', 'group', 'shadow', 'gshadow'] as const;

function copyEntry(from: string, to: string): void {
  const st = fs.lstatSync(from);
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.rmSync(to, { recursive: true, force: true });
  if (st.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(from), to);
  else if (st.isDirectory()) {
    fs.mkdirSync(to, { mode: st.mode & 0o7777 });
    for (const e of fs.readdirSync(from)) copyEntry(path.join(from, e), path.join(to, e));
  } else fs.copyFileSync(from, to);
  fs.lchownSync(to, st.uid, st.gid);
  if (!st.isSymbolicLink()) fs.chmodSync(to, st.mode & 0o7777);
}

/** Writes `data` over `file` keeping the file's owner and mode; renamed into place, never half written. */
function replaceKeeping(file: string, data: string): void {
  const st = fs.statSync(file);
  const tmp = `${file}.printbox-new`;
  fs.writeFileSync(tmp, data, { mode: st.mode & 0o7777 });
  fs.chownSync(tmp, st.uid, st.gid);
  fs.chmodSync(tmp, st.mode & 0o7777);
  fs.renameSync(tmp, file);
}

export interface CarryReport { accounts: string[]; copied: string[] }

/** Copies the device's identity from `oldRoot` (usually /) into `newRoot` (the written slot, mounted). */
export function carryOver(oldRoot: string, newRoot: string): CarryReport {
  const read = (root: string) => Object.fromEntries(ACCOUNT_FILES.map((f) => [f, fs.readFileSync(path.join(root, 'etc', f), 'utf8')])) as unknown as AccountFiles;
  const merged = mergeAccounts(read(oldRoot), read(newRoot));
  for (const f of ACCOUNT_FILES) replaceKeeping(path.join(newRoot, 'etc', f), merged[f]);
  const copied: string[] = [];
  for (const rel of IDENTITY) {
    if (rel.endsWith('/') || rel.endsWith('*')) {
      const dir = rel.endsWith('/') ? rel : path.dirname(rel) + '/';
      const prefix = rel.endsWith('*') ? path.basename(rel).slice(0, -1) : '';
      if (!fs.existsSync(path.join(oldRoot, dir))) continue;
      for (const e of fs.readdirSync(path.join(oldRoot, dir)).filter((n) => n.startsWith(prefix)).sort()) {
        copyEntry(path.join(oldRoot, dir, e), path.join(newRoot, dir, e));
        copied.push(`${dir}${e}`);
      }
    } else if (fs.existsSync(path.join(oldRoot, rel)) || isLink(path.join(oldRoot, rel))) {
      copyEntry(path.join(oldRoot, rel), path.join(newRoot, rel));
      copied.push(rel);
    }
  }
  return { accounts: merged.people, copied };
}

const isLink = (p: string) => { try { return fs.lstatSync(p).isSymbolicLink(); } catch { return false; } };
