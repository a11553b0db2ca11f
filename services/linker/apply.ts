/**
 * Applies the system settings of printbox.txt under a root directory ("/" on the device, a temp dir
 * in tests, so nothing on the host changes). Every step is check-then-write, so a rerun after a
 * power cut converges to the same files.
 *   hostname → /etc/hostname and the 127.0.1.1 line of /etc/hosts
 *   Wi-Fi    → a NetworkManager keyfile (0600) + cfg80211 regulatory domain for wifi_country
 *   SSH key  → appended once to /root/.ssh/authorized_keys (Debian's sshd allows key-only root login)
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../shared/link/atomic.ts';
import type { BootSettings } from './parse.ts';

export interface ApplyDeps {
  root: string;
  /** Sets the running kernel's hostname; only passed on a real device. */
  setRuntimeHostname?: (name: string) => Promise<void>;
  /**
   * Makes NetworkManager load the new keyfile now; only passed on a real device. Linking right after
   * needs the Wi-Fi, so this cannot wait for the unit's ExecStartPost (which runs after we exit).
   */
  reloadNetwork?: (country?: string) => Promise<void>;
}

const at = (root: string, p: string) => path.join(root, p);

function writeIfChanged(file: string, content: string, mode: number): boolean {
  try { if (fs.readFileSync(file, 'utf8') === content) return false; } catch { /* absent */ }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, content, { mode });
  return true;
}

export async function applyHostname(deps: ApplyDeps, name: string): Promise<void> {
  writeIfChanged(at(deps.root, 'etc/hostname'), `${name}\n`, 0o644);
  const hostsFile = at(deps.root, 'etc/hosts');
  let hosts = '';
  try { hosts = fs.readFileSync(hostsFile, 'utf8'); } catch { hosts = '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n'; }
  const line = `127.0.1.1\t${name}`;
  const next = /^127\.0\.1\.1\s.*$/m.test(hosts) ? hosts.replace(/^127\.0\.1\.1\s.*$/m, line) : hosts.replace(/\n?$/, `\n${line}\n`);
  writeIfChanged(hostsFile, next, 0o644);
  await deps.setRuntimeHostname?.(name);
}

/**
 * A string value as g_key_file_set_string() writes it (NetworkManager keyfiles are GKeyFiles): "\\",
 * line ends, tabs escaped, and spaces at either end as "\\s" (the parser strips them). A ";" stays as
 * it is: in a string value "\\;" is an invalid escape and GKeyFile would drop the whole value.
 */
const keyfileString = (v: string) =>
  v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t').replace(/^ /, '\\s').replace(/ $/, '\\s');
/** NetworkManager's own SSID escaping comes first: ";" → "\\;", else "1;2;" would read as a byte list. */
const keyfileSsid = (ssid: string) => keyfileString(ssid.replace(/;/g, '\\;'));

const WIFI_KEYFILE = 'etc/NetworkManager/system-connections/printbox-wifi.nmconnection';

export function applyWifi(root: string, wifi: NonNullable<BootSettings['wifi']>, source = 'printbox-firstboot from printbox.txt'): void {
  const file = at(root, WIFI_KEYFILE);
  let current = '';
  try { current = fs.readFileSync(file, 'utf8'); } catch { /* first time */ }
  // A rerun sees the file after we removed wifi_password from it: the same SSID without a password
  // means "keep what was set up", not "switch to an open network" (which would cut the device off).
  const keep = !wifi.password && current.includes(`\nssid=${keyfileSsid(wifi.ssid)}\n`);
  if (!keep) writeWifi(file, wifi, source);
  if (wifi.country) {
    writeIfChanged(at(root, 'etc/modprobe.d/printbox-wifi-country.conf'), `options cfg80211 ieee80211_regdom=${wifi.country}\n`, 0o644);
  }
}

function writeWifi(file: string, wifi: NonNullable<BootSettings['wifi']>, source: string): void {
  const lines = [
    `# Written by ${source}`,
    '[connection]', 'id=printbox-wifi', 'type=wifi', 'autoconnect=true', '',
    // a hidden network is not in scan results: NetworkManager must probe for it by name
    '[wifi]', 'mode=infrastructure', `ssid=${keyfileSsid(wifi.ssid)}`, ...(wifi.hidden ? ['hidden=true'] : []), '',
    ...(wifi.password ? ['[wifi-security]', 'key-mgmt=wpa-psk', `psk=${keyfileString(wifi.password)}`, ''] : []),
    '[ipv4]', 'method=auto', '', '[ipv6]', 'method=auto', '',
  ];
  writeIfChanged(file, lines.join('\n'), 0o600);
}

function applySshKey(root: string, key: string): void {
  const dir = at(root, 'root/.ssh');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, 'authorized_keys');
  let current = '';
  try { current = fs.readFileSync(file, 'utf8'); } catch { /* absent */ }
  const keyPart = key.split(' ').slice(0, 2).join(' ');
  if (current.split('\n').some((l) => l.split(' ').slice(0, 2).join(' ') === keyPart)) return;
  writeFileAtomic(file, (current && !current.endsWith('\n') ? current + '\n' : current) + key + '\n', { mode: 0o600 });
}

/** Returns a short, secret-free description of what was applied. */
export async function applySystemSettings(deps: ApplyDeps, s: BootSettings): Promise<string[]> {
  const done: string[] = [];
  if (s.hostname) { await applyHostname(deps, s.hostname); done.push(`hostname ${s.hostname}`); }
  if (s.wifi) {
    applyWifi(deps.root, s.wifi);
    await deps.reloadNetwork?.(s.wifi.country);
    done.push(`Wi-Fi "${s.wifi.ssid}"`);
  }
  if (s.sshKey) { applySshKey(deps.root, s.sshKey); done.push('SSH key'); }
  return done;
}
