/**
 * Carrying the device's accounts into a freshly written slot. The new root file system brings its own
 * /etc/passwd, group, shadow and gshadow (with any system user the new version added); the people who
 * use this device — the first-boot admin, the Raspberry Pi Imager account, root's password — live only
 * in the running slot's copies. The merge keeps the new files' system entries and adds the device's own:
 * accounts with uid ≥ 1000, their private groups, their group memberships and every password hash.
 * Pure functions over the files' text; carry-over.ts does the reading and writing.
 */

/** First uid/gid of accounts made on the device (Debian's FIRST_UID / FIRST_GID). */
export const FIRST_UID = 1000;
const NOBODY = 65534;

type Row = string[];
const rows = (text: string): Row[] => text.split('\n').filter((l) => l.trim() && !l.startsWith('#')).map((l) => l.split(':'));
const text = (r: Row[]): string => r.map((x) => x.join(':')).join('\n') + '\n';
const isPerson = (id: string | undefined) => { const n = Number(id); return Number.isInteger(n) && n >= FIRST_UID && n !== NOBODY; };

export interface AccountFiles { passwd: string; group: string; shadow: string; gshadow: string }

export interface MergedAccounts extends AccountFiles { /** The device's own accounts that were carried. */ people: string[] }

/** Merges the running slot's accounts (`old`) into the new slot's files (`fresh`). */
export function mergeAccounts(old: AccountFiles, fresh: AccountFiles): MergedAccounts {
  const oldPasswd = rows(old.passwd);
  const passwd = rows(fresh.passwd);
  const names = new Set(passwd.map((r) => r[0]));
  const people = oldPasswd.filter((r) => isPerson(r[2]));
  for (const p of people) if (!names.has(p[0])) { passwd.push(p); names.add(p[0]); }
  const personNames = new Set(people.map((r) => r[0]!));

  // every password set on the device wins, including root's (set by printbox.txt or by hand)
  const oldShadow = new Map(rows(old.shadow).map((r) => [r[0], r]));
  const shadow = rows(fresh.shadow).map((r) => (personNames.has(r[0]!) || r[0] === 'root' ? oldShadow.get(r[0]!) ?? r : r));
  const inShadow = new Set(shadow.map((r) => r[0]));
  for (const n of personNames) { const r = oldShadow.get(n); if (r && !inShadow.has(n)) shadow.push(r); }

  const group = mergeGroups(rows(old.group), rows(fresh.group), personNames, 3, (r) => isPerson(r[2]));
  const added = new Set(group.map((r) => r[0]).filter((n) => !rows(fresh.group).some((r) => r[0] === n)));
  const gshadow = mergeGroups(rows(old.gshadow), rows(fresh.gshadow), personNames, 3, (r) => added.has(r[0]));
  return { passwd: text(passwd), group: text(group), shadow: text(shadow), gshadow: text(gshadow), people: [...personNames] };
}

/** The new groups with the people's memberships added, then the old groups `own` picks (their private groups). */
function mergeGroups(old: Row[], fresh: Row[], people: Set<string>, membersCol: number, own: (r: Row) => boolean): Row[] {
  const oldByName = new Map(old.map((r) => [r[0], r]));
  const members = (r: Row | undefined) => (r?.[membersCol] ?? '').split(',').filter(Boolean);
  const out = fresh.map((r) => {
    const add = members(oldByName.get(r[0]!)).filter((m) => people.has(m));
    const next = [...r];
    while (next.length <= membersCol) next.push('');
    next[membersCol] = [...new Set([...members(r), ...add])].join(',');
    return next;
  });
  const have = new Set(out.map((r) => r[0]));
  for (const r of old) if (!have.has(r[0]) && own(r)) { out.push(r); have.add(r[0]); }
  return out;
}
