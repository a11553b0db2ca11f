/**
 * Parser for the boot partition's printbox.txt (CONTRACT.md "Boot partition"): `key = value` lines,
 * `#` comments, tolerant of a UTF-8 BOM, CRLF and surrounding quotes. Files people make on Windows
 * or phones arrive in every shape, so each problem becomes a message naming the line — never a throw.
 */

export const KEYS = ['cloud_url', 'email', 'password', 'link_token', 'offline', 'hostname', 'wifi_ssid', 'wifi_password', 'wifi_country', 'ssh_authorized_key'] as const;
export type Key = (typeof KEYS)[number];
/** Keys printbox-init (image/overlay/usr/lib/printbox/init.sh) consumes before we run: known, not ours. */
const INIT_KEYS: ReadonlySet<string> = new Set(['admin_user', 'admin_password']);
/** Values removed from the file once used (CONTRACT.md: "secret values are removed … never logged"). */
export const SECRET_KEYS: ReadonlySet<string> = new Set(['password', 'link_token', 'wifi_password']);
export const MAX_BYTES = 64 * 1024;

export interface BootSettings {
  cloudUrl?: string;
  email?: string;
  password?: string;
  linkToken?: string;
  offline?: boolean;
  hostname?: string;
  /** hidden: set only by Raspberry Pi Imager's set_wlan -h (services/linker/imager.ts) */
  wifi?: { ssid: string; password?: string; country?: string; hidden?: boolean };
  sshKey?: string;
}

export interface ParsedLine { raw: string; key?: string; value?: string }

export interface Parsed {
  /** 'text' = usable lines; 'utf16' = decodable but wrong encoding; 'binary' = not a text file / too large. */
  kind: 'text' | 'utf16' | 'binary';
  lines: ParsedLine[];
  /** The file's line ending, kept on rewrite so Notepad users still see lines. */
  eol: '\n' | '\r\n';
  settings: BootSettings;
  errors: string[];
  warnings: string[];
}

/** Decodes the bytes, classifying the encodings people actually produce. */
export function decode(buf: Buffer): { kind: Parsed['kind']; text: string; error?: string } {
  if (buf.length > MAX_BYTES) return { kind: 'binary', text: '', error: `printbox.txt is ${buf.length} bytes; at most ${MAX_BYTES} are expected — this is not a PrintBox settings file` };
  const le = buf[0] === 0xff && buf[1] === 0xfe;
  const be = buf[0] === 0xfe && buf[1] === 0xff;
  const zeros = buf.subarray(0, 200).filter((b) => b === 0).length;
  if (le || be || (buf.length >= 4 && zeros >= buf.subarray(0, 200).length / 3)) {
    const odd = buf.length >= 2 && buf[0] === 0; // no BOM: "\0k\0e…" is big-endian
    const text = new TextDecoder(be || (!le && odd) ? 'utf-16be' : 'utf-16le').decode(buf);
    return { kind: 'utf16', text, error: 'printbox.txt is saved as UTF-16 (Windows "Unicode"); PrintBox converted it to UTF-8 — check it and reboot to apply it' };
  }
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(buf);
    if (text.includes('\0')) throw new Error('NUL');
    return { kind: 'text', text: text.replace(/^\uFEFF/, '') };
  } catch {
    return { kind: 'binary', text: '', error: 'printbox.txt is not a text file (invalid UTF-8); save it as plain UTF-8 text' };
  }
}

const unquote = (v: string) => (v.length >= 2 && ((v[0] === '"' && v.endsWith('"')) || (v[0] === "'" && v.endsWith("'"))) ? v.slice(1, -1) : v);
const EMAIL = /^[^\s@"'<>()\[\],;:]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/;
export const HOSTNAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;
export const SSH_KEY = /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\r\n]*)?$/;

export function splitLines(text: string): ParsedLine[] {
  return text.split(/\r?\n|\r/).map((raw) => {
    const t = raw.trim();
    if (!t || t.startsWith('#') || t.startsWith(';')) return { raw };
    const eq = t.indexOf('=');
    if (eq < 0) return { raw, key: '' };
    return { raw, key: t.slice(0, eq).trim().toLowerCase(), value: unquote(t.slice(eq + 1).trim()) };
  });
}

export function parseBootFile(buf: Buffer): Parsed {
  const dec = decode(buf);
  const errors: string[] = dec.error ? [dec.error] : [];
  const warnings: string[] = [];
  const lines = dec.kind === 'binary' ? [] : splitLines(dec.text);
  const values = new Map<string, string>();
  lines.forEach((l, i) => {
    if (l.key === undefined) return;
    if (l.key === '') { warnings.push(`line ${i + 1}: ignored, not "key = value"`); return; }
    if (INIT_KEYS.has(l.key)) return;
    if (!(KEYS as readonly string[]).includes(l.key)) { warnings.push(`line ${i + 1}: unknown key "${l.key}" ignored`); return; }
    if (values.has(l.key)) warnings.push(`line ${i + 1}: "${l.key}" given twice; the last one counts`);
    values.set(l.key, l.value ?? '');
  });
  const settings = dec.kind === 'text' ? validate(values, errors) : {};
  return { kind: dec.kind, lines, eol: dec.text.includes('\r\n') ? '\r\n' : '\n', settings, errors, warnings };
}

/** Turns raw values into settings, adding one error per problem. Empty values count as absent. */
function validate(v: Map<string, string>, errors: string[]): BootSettings {
  const get = (k: Key) => (v.get(k) ?? '') || undefined;
  const s: BootSettings = {};
  const cloudUrl = get('cloud_url');
  if (cloudUrl) {
    let u: URL | undefined;
    try { u = new URL(cloudUrl); } catch { /* below */ }
    const loopback = u && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
    if (!u || !(u.protocol === 'https:' || (u.protocol === 'http:' && loopback))) errors.push(`cloud_url "${cloudUrl}" must be an https:// URL`);
    else s.cloudUrl = cloudUrl;
  }
  const email = get('email');
  if (email !== undefined) {
    if (!EMAIL.test(email) || email.length > 254) errors.push(`email "${email}" is not a valid email address`);
    else s.email = email;
  }
  const password = get('password');
  const token = get('link_token');
  if (password && token) errors.push('give either password or link_token, not both');
  else if (password) { if (!email) errors.push('password needs an email'); s.password = password; }
  else if (token) { if (!/^[\x21-\x7e]{8,512}$/.test(token)) errors.push('link_token has an invalid format'); else s.linkToken = token; }
  const offline = get('offline');
  if (offline !== undefined) {
    const o = offline.toLowerCase();
    if (['yes', 'true', '1', 'on'].includes(o)) s.offline = true;
    else if (['no', 'false', '0', 'off'].includes(o)) s.offline = false;
    else errors.push(`offline must be yes or no, got "${offline}"`);
    if (s.offline && (email || token)) errors.push('offline = yes cannot be combined with email or link_token');
  }
  const hostname = get('hostname');
  if (hostname !== undefined) {
    if (!HOSTNAME.test(hostname)) errors.push(`hostname "${hostname}" is invalid (letters, digits and "-", at most 63, not starting or ending with "-")`);
    else s.hostname = hostname.toLowerCase();
  }
  const ssid = get('wifi_ssid');
  const wpass = get('wifi_password');
  const country = get('wifi_country');
  if (ssid !== undefined) {
    if (Buffer.byteLength(ssid) > 32) errors.push('wifi_ssid is longer than 32 bytes');
    if (wpass !== undefined && !(wpass.length >= 8 && wpass.length <= 63) && !/^[0-9a-f]{64}$/i.test(wpass)) errors.push('wifi_password must be 8-63 characters (or 64 hex digits)');
    if (country !== undefined && !/^[A-Z]{2}$/i.test(country)) errors.push(`wifi_country "${country}" must be a two-letter country code such as DE or US`);
    s.wifi = { ssid, ...(wpass ? { password: wpass } : {}), ...(country ? { country: country.toUpperCase() } : {}) };
  } else if (wpass || country) {
    errors.push('wifi_password / wifi_country need a wifi_ssid');
  }
  const key = get('ssh_authorized_key');
  if (key !== undefined) {
    if (!SSH_KEY.test(key)) errors.push('ssh_authorized_key does not look like a public key line ("ssh-ed25519 AAAA… comment")');
    else s.sshKey = key;
  }
  return s;
}
