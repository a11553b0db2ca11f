/**
 * Raspberry Pi Imager's "systemd" OS customisation, applied by PrintBox. Imager writes firstrun.sh to
 * the FAT and has it run once through systemd.run= (image/overlay/boot/firstrun.sh moves its paths to
 * /boot/firmware). That script calls two Raspberry Pi OS tools by absolute path; the image installs
 * ours there (image/overlay/usr/lib/raspberrypi-sys-mods/imager_custom and …/userconf-pi/userconf),
 * both ending here. The arguments are the ones Imager 1.9 (src/OptionsPopup.qml) and 2.0
 * (src/customization_generator.cpp) write, with raspberrypi-sys-mods' option spellings:
 *   imager_custom set_hostname NAME
 *   imager_custom enable_ssh [-k|--key-only] [-p|--pass-auth] [-d|--disabled] [KEY…]
 *   imager_custom set_wlan [-h|--hidden] [-p|--plain] SSID [PSK [COUNTRY]]
 *   imager_custom set_wlan_country COUNTRY
 *   imager_custom set_keymap LAYOUT
 *   imager_custom set_timezone ZONE
 *   userconf [OLDUSER] USER CRYPTED-PASSWORD
 * Files go under deps.root ("/" on the device, a temp dir in tests). Messages never contain a secret.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../shared/link/atomic.ts';
import type { Logger } from '../shared/log.ts';
import { applyHostname, applyWifi } from './apply.ts';
import { HOSTNAME, SSH_KEY } from './parse.ts';

export interface ImagerDeps {
  root: string;
  log: Logger;
  /** Runs a system tool (useradd, usermod, chpasswd, systemctl); `input` goes to its stdin, never argv. */
  run: (cmd: string, args: string[], input?: string) => Promise<void>;
}

/** ImagerDeps.run for the device: the error names the tool and its stderr, never argv (a hash in tests). */
export function runTool(cmd: string, args: string[], input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: 60_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`${cmd} failed: ${String(stderr).trim() || `exit status ${String(err.code)}`}`));
      else resolve();
    });
    // a tool that exits without reading (systemctl) must not turn into an EPIPE crash
    child.stdin?.on('error', () => undefined);
    if (input === undefined) child.stdin?.end(); else child.stdin?.end(input);
  });
}

/** Groups of the PrintBox admin account, as printbox-init gives them (docs/contract.md "Accounts and groups"). */
const ADMIN_GROUPS = 'printbox,printbox-admins,sudo';
/** Keys given before any account exists (Imager calls enable_ssh before userconf); printbox-init's state dir. */
export const PENDING_KEYS = 'var/lib/printbox-init/imager-authorized-keys';
/** Key-only SSH as chosen in Imager; removed again when Imager asks for password login. */
const SSHD_KEY_ONLY = 'etc/ssh/sshd_config.d/imager-key-only.conf';
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
/** crypt(3) strings Imager writes: yescrypt "$y$…" (2.x for current OS releases), sha256crypt "$5$…". */
const CRYPTED = /^\$[0-9a-z]+\$[./0-9A-Za-z$=,]+$/;

class UsageError extends Error {}
const at = (deps: ImagerDeps, p: string) => path.join(deps.root, p);

interface Account { name: string; uid: number; gid: number; home: string }

function accounts(deps: ImagerDeps): Account[] {
  let text = '';
  try { text = fs.readFileSync(at(deps, 'etc/passwd'), 'utf8'); } catch { /* none */ }
  return text.split('\n').filter(Boolean).map((l) => {
    const f = l.split(':');
    return { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '' };
  });
}
/** Imager's scripts look the first user up as uid 1000; so do we. */
const firstUser = (deps: ImagerDeps) => accounts(deps).find((a) => a.uid === 1000);

/** Appends each key line not yet present (compared by type and key), as the owner, 0600. */
function addKeys(file: string, keys: string[], owner?: { uid: number; gid: number }): void {
  let current = '';
  try { current = fs.readFileSync(file, 'utf8'); } catch { /* absent */ }
  const id = (l: string) => l.trim().split(/\s+/).slice(0, 2).join(' ');
  const have = new Set(current.split('\n').map(id));
  const add = keys.filter((k) => !have.has(id(k)));
  if (!add.length && current) return;
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  if (owner) fs.chownSync(path.dirname(file), owner.uid, owner.gid);
  const base = current && !current.endsWith('\n') ? current + '\n' : current;
  writeFileAtomic(file, base + add.map((k) => k + '\n').join(''), { mode: 0o600, ...(owner ?? {}) });
}

async function setHostname(deps: ImagerDeps, args: string[]): Promise<string> {
  if (args.length !== 1) throw new UsageError('set_hostname HOSTNAME');
  const name = args[0]!;
  if (!HOSTNAME.test(name)) throw new Error(`hostname "${name}" is invalid (letters, digits and "-", at most 63)`);
  await applyHostname({ root: deps.root }, name.toLowerCase());
  return `hostname ${name.toLowerCase()}`;
}

async function enableSsh(deps: ImagerDeps, args: string[]): Promise<string> {
  let keyOnly: boolean | undefined;
  let enable = true;
  const keys: string[] = [];
  const bad: number[] = [];
  for (const a of args) {
    if (a === '-k' || a === '--key-only') keyOnly = true;
    else if (a === '-p' || a === '--pass-auth') keyOnly = false;
    else if (a === '-d' || a === '--disabled') enable = false;
    else if (SSH_KEY.test(a.trim())) keys.push(a.trim());
    else bad.push(keys.length + bad.length + 1);
  }
  const dropIn = at(deps, SSHD_KEY_ONLY);
  if (keyOnly && keys.length) {
    fs.mkdirSync(path.dirname(dropIn), { recursive: true });
    writeFileAtomic(dropIn, '# Raspberry Pi Imager: "Allow public-key authentication only"\nPasswordAuthentication no\n', { mode: 0o644 });
  } else {
    // password login is sshd's default here (never key-only without a key: that would lock everyone out)
    fs.rmSync(dropIn, { force: true });
  }
  const user = firstUser(deps);
  if (keys.length) {
    if (user) addKeys(at(deps, path.join(user.home, '.ssh/authorized_keys')), keys, user);
    else addKeys(at(deps, PENDING_KEYS), keys);
  }
  // The image ships sshd enabled; systemctl enable would still run Debian's SysV sync (slow on a Pi Zero).
  const enabled = fs.lstatSync(at(deps, 'etc/systemd/system/multi-user.target.wants/ssh.service'), { throwIfNoEntry: false });
  if (enable && !enabled) await deps.run('systemctl', ['--root', deps.root, '--quiet', 'enable', 'ssh.service']);
  if (bad.length) throw new Error(`SSH key ${bad.join(', ')} is not a public key line ("ssh-ed25519 AAAA… comment"); ignored`);
  const who = user ? user.name : 'the account userconf creates';
  return `SSH ${enable ? 'enabled' : 'left as it is'}${keyOnly && keys.length ? ', public keys only' : ''}${keys.length ? `, ${keys.length} key(s) for ${who}` : ''}`;
}

/** ISO 3166 codes from tzdata, when the image has it; else only the two-letter shape is checked. */
function knownCountry(deps: ImagerDeps, code: string): boolean {
  try {
    const tab = fs.readFileSync(at(deps, 'usr/share/zoneinfo/iso3166.tab'), 'utf8');
    return tab.split('\n').some((l) => l.startsWith(`${code}\t`));
  } catch { return true; }
}

function country(deps: ImagerDeps, raw: string): string {
  const code = raw.trim().toUpperCase();
  if (!/^[A-Z]{2}$/.test(code) || !knownCountry(deps, code)) {
    throw new Error(`Wi-Fi country "${raw}" is not a two-letter ISO 3166 country code such as DE or US`);
  }
  return code;
}

async function setWlan(deps: ImagerDeps, args: string[]): Promise<string> {
  let hidden = false;
  const pos: string[] = [];
  for (const a of args) {
    if (a === '-h' || a === '--hidden') hidden = true;
    else if (a === '-p' || a === '--plain') continue; // NetworkManager takes a passphrase and a 64-hex PSK alike
    else pos.push(a);
  }
  if (pos.length < 1 || pos.length > 3) throw new UsageError('set_wlan [-h|--hidden] [-p|--plain] SSID [PASS [COUNTRY]]');
  const [ssid, psk = '', cc = ''] = pos as [string, string?, string?];
  if (!ssid || Buffer.byteLength(ssid) > 32) throw new Error('Wi-Fi SSID must be 1 to 32 bytes');
  if (/[\0\r\n]/.test(ssid)) throw new Error('Wi-Fi SSID contains a control character');
  // Imager hands over the PBKDF2 key (64 hex digits) for a passphrase; a passphrase is 8-63 characters.
  if (psk && !/^[0-9a-fA-F]{64}$/.test(psk) && !(psk.length >= 8 && psk.length <= 63 && !/[\0\r\n]/.test(psk))) {
    throw new Error(`Wi-Fi password for "${ssid}" must be 8-63 characters or 64 hex digits; network not configured`);
  }
  let code: string | undefined;
  let countryError: Error | undefined;
  if (cc) { try { code = country(deps, cc); } catch (e) { countryError = e as Error; } }
  applyWifi(deps.root, { ssid, ...(psk ? { password: psk } : {}), ...(code ? { country: code } : {}), ...(hidden ? { hidden } : {}) },
    'Raspberry Pi Imager (firstrun.sh, imager_custom set_wlan)');
  // The network is still usable without the country (world regulatory domain): keep it, report the error.
  if (countryError) throw new Error(`${countryError.message}; Wi-Fi "${ssid}" configured without a country`);
  return `Wi-Fi "${ssid}"${hidden ? ' (hidden)' : ''}${psk ? '' : ' (open)'}${code ? `, country ${code}` : ''}`;
}

function setWlanCountry(deps: ImagerDeps, args: string[]): string {
  if (args.length !== 1) throw new UsageError('set_wlan_country COUNTRY');
  const code = country(deps, args[0]!);
  fs.mkdirSync(at(deps, 'etc/modprobe.d'), { recursive: true });
  writeFileAtomic(at(deps, 'etc/modprobe.d/printbox-wifi-country.conf'), `options cfg80211 ieee80211_regdom=${code}\n`, { mode: 0o644 });
  return `Wi-Fi country ${code}`;
}

function setKeymap(deps: ImagerDeps, args: string[]): string {
  if (args.length !== 1) throw new UsageError('set_keymap KEYMAP');
  const layout = args[0]!;
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(layout)) throw new Error(`keyboard layout "${layout}" is invalid`);
  // keyboard-configuration's file: read by console-setup and X/Wayland, should either ever be installed
  const text = `# Raspberry Pi Imager: keyboard layout\nXKBMODEL="pc105"\nXKBLAYOUT="${layout}"\nXKBVARIANT=""\nXKBOPTIONS=""\nBACKSPACE="guess"\n`;
  fs.mkdirSync(at(deps, 'etc/default'), { recursive: true });
  writeFileAtomic(at(deps, 'etc/default/keyboard'), text, { mode: 0o644 });
  return `keyboard layout ${layout}`;
}

function setTimezone(deps: ImagerDeps, args: string[]): string {
  if (args.length !== 1) throw new UsageError('set_timezone TIMEZONE');
  const zone = args[0]!;
  if (!/^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+)*$/.test(zone)) throw new Error(`time zone "${zone}" is invalid`);
  if (!fs.existsSync(at(deps, 'usr/share/zoneinfo'))) throw new Error('no time zone data (tzdata) on this system; time zone not set');
  if (!fs.statSync(at(deps, `usr/share/zoneinfo/${zone}`), { throwIfNoEntry: false })?.isFile()) {
    throw new Error(`time zone "${zone}" is unknown (no /usr/share/zoneinfo/${zone})`);
  }
  const link = at(deps, 'etc/localtime');
  const tmp = `${link}.imager-tmp`;
  fs.rmSync(tmp, { force: true });
  fs.symlinkSync(`/usr/share/zoneinfo/${zone}`, tmp);
  fs.renameSync(tmp, link);
  writeFileAtomic(at(deps, 'etc/timezone'), `${zone}\n`, { mode: 0o644 });
  return `time zone ${zone}`;
}

/** Shadow tools work under a prefix for tests; on the device root is "/" and they act on the system. */
const prefix = (deps: ImagerDeps) => (deps.root === '/' ? [] : ['--prefix', deps.root]);

async function setPassword(deps: ImagerDeps, user: string, crypted: string): Promise<void> {
  if (deps.root === '/') await deps.run('chpasswd', ['-e'], `${user}:${crypted}\n`);
  else await deps.run('usermod', [...prefix(deps), '-p', crypted, user]); // chpasswd has no --prefix before shadow 4.14
}

/**
 * Creates the Imager account (or renames the uid-1000 account, as Raspberry Pi OS's userconf does) as a
 * PrintBox admin: it may sign in to the web (printbox), administer it (printbox-admins) and use sudo.
 */
async function userconf(deps: ImagerDeps, args: string[]): Promise<string> {
  if (args.length !== 2 && args.length !== 3) throw new UsageError('userconf [OLDUSER] USER CRYPTED-PASSWORD');
  const [user, crypted] = args.slice(-2) as [string, string];
  const old = args.length === 3 ? args[0] : firstUser(deps)?.name;
  if (!USER_NAME.test(user) || user === 'root') throw new Error(`user name "${user}" is invalid (lowercase letters, digits, _ and -)`);
  if (crypted && !CRYPTED.test(crypted)) throw new Error(`the password for ${user} is not a crypt(3) hash; account not changed`);
  const existing = accounts(deps).find((a) => a.name === user);
  if (existing && existing.uid < 1000) throw new Error(`${user} is a system account; not changed`);
  let what: string;
  if (existing) what = `account ${user} updated`;
  else if (old && old !== user && accounts(deps).some((a) => a.name === old)) {
    await deps.run('usermod', [...prefix(deps), '-l', user, old]);
    await deps.run('usermod', [...prefix(deps), '-m', '-d', `/home/${user}`, user]);
    await deps.run('groupmod', [...prefix(deps), '-n', user, old]).catch(() => undefined); // no group of that name
    what = `account ${old} renamed to ${user}`;
  } else {
    await deps.run('useradd', [...prefix(deps), '-m', '-s', '/bin/bash', '-G', ADMIN_GROUPS, user]);
    what = `account ${user} created`;
  }
  await deps.run('usermod', [...prefix(deps), '-aG', ADMIN_GROUPS, user]);
  if (crypted) await setPassword(deps, user, crypted);
  const account = accounts(deps).find((a) => a.name === user);
  const pending = at(deps, PENDING_KEYS);
  if (account && fs.existsSync(pending)) {
    const keys = fs.readFileSync(pending, 'utf8').split('\n').filter((l) => l.trim());
    addKeys(at(deps, path.join(account.home, '.ssh/authorized_keys')), keys, account);
    fs.rmSync(pending);
    what += `, ${keys.length} SSH key(s)`;
  }
  return `${what} (groups ${ADMIN_GROUPS})${crypted ? ', password set' : ', no password (SSH keys only)'}`;
}

const IMAGER_CUSTOM: Record<string, (deps: ImagerDeps, args: string[]) => Promise<string> | string> = {
  set_hostname: setHostname, enable_ssh: enableSsh, set_wlan: setWlan, set_wlan_country: setWlanCountry,
  set_keymap: setKeymap, set_timezone: setTimezone,
};

/** Runs one command; returns the exit status. Results and errors go to the log (the journal on the device). */
export async function runImagerCommand(deps: ImagerDeps, tool: string, argv: string[]): Promise<number> {
  const [sub = '', ...rest] = argv;
  const fn = tool === 'userconf' ? userconf : tool === 'imager_custom' ? IMAGER_CUSTOM[sub] : undefined;
  const args = tool === 'userconf' ? argv : rest;
  const name = tool === 'userconf' ? 'userconf' : `imager_custom ${sub}`;
  if (!fn) {
    deps.log.error(`${tool} ${sub}: unsupported command (PrintBox implements ${Object.keys(IMAGER_CUSTOM).join(', ')} and userconf)`);
    return 1;
  }
  try {
    deps.log.info(`${name}: ${await fn(deps, args)}`);
    return 0;
  } catch (e) {
    const err = e as Error;
    deps.log.error(err instanceof UsageError ? `usage: ${tool === 'userconf' ? '' : 'imager_custom '}${err.message}` : `${name}: ${err.message}`);
    return err instanceof UsageError ? 2 : 1;
  }
}
