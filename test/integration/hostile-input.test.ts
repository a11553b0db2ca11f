/**
 * Hostile-input suite: hundreds of malformed, oversized, mistyped, spoofed, forged,
 * replayed and traversal requests against the REAL web service over HTTPS (plus the real PAM
 * helper and printer service), sent from 127.0.0.2 so the local bypass never applies. Each case
 * must be refused (4xx; 503 only where a backing service legitimately says so), none may crash the
 * service (5xx other than that, or a dead process), and nothing may be written where it should not.
 * Prints the plain line "N passed, 0 failed".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as OTPAuth from 'otpauth';
import { PERMISSIONS } from '../../services/shared/permissions.ts';
import { routes } from '../../services/web/routes/index.ts';
import { cookieOf, startStack, type Reply, type RequestOptions, type Stack } from './security-stack.ts';

/** Consecutive cases with the same `group` run concurrently (independent, slow: PAM's fail delay, waits). */
interface Case {
  name: string; req: () => RequestOptions | Promise<RequestOptions>; ok?: (r: Reply) => true | string; group?: string;
  /** Node answers 431 and closes at once on header overflow; a reset while we still write is that refusal. */
  resetOk?: boolean;
}

const MARK = 'pbpwn';
const errCode = (r: Reply) => (r.json as { error?: { code?: string } } | undefined)?.error?.code;
/** Refused: a 4xx, or 503 from a backing service that is down — never a 2xx/3xx, never another 5xx. */
const refused = (r: Reply): true | string => (r.status >= 400 && r.status < 500) || (r.status === 503 && errCode(r) === 'service_unavailable')
  ? true : `expected refusal, got ${r.status} ${r.text.slice(0, 200)}`;
const status = (...ok: number[]) => (r: Reply): true | string => ok.includes(r.status) ? true : `expected ${ok.join('|')}, got ${r.status} ${r.text.slice(0, 200)}`;
const noLeak = (r: Reply): true | string => /root:.*:0:0:/.test(r.text) ? 'leaked /etc/passwd' : refused(r);

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) { const p = path.join(d, e.name); if (e.isDirectory()) walk(p); else out.push(path.relative(dir, p)); } };
  if (fs.existsSync(dir)) walk(dir);
  return out.sort();
}

test('hostile-input suite', { timeout: 300_000 }, async (t) => {
  const s: Stack = await startStack({
    userSpecs: [{ key: 'admin', role: 'admins' }, { key: 'op', role: 'operators' }],
    env: { PRINTBOX_SESSION_MAX_H: '0.003' }, // 10.8 s absolute lifetime: lets the suite watch a session expire
    printer: fs.existsSync(path.join(import.meta.dirname, '../../services/printer/main.ts')),
  });
  t.after(() => s.stop());
  const admin = s.users.admin!;
  const op = s.users.op!;
  const started = Date.now();
  const all = await s.key({ name: 'hostile-all', permissions: [...PERMISSIONS] });
  // A signed-in admin cookie; reused for a few seconds (each PAM login costs ~1-2 s of hashing), fresh on demand.
  let cached: { cookie: string; at: number } | undefined;
  const fresh = async (unique = false) => {
    if (!unique && cached && Date.now() - cached.at < 4000) return cached.cookie;
    const at = Date.now(); // before the login: the server's lifetime clock starts no earlier than this
    const cookie = await s.login(admin);
    if (!unique) cached = { cookie, at };
    return cookie;
  };
  const keyCount = async () => ((await s.req({ path: '/api/apikeys', bearer: all.key })).json as unknown[]).length;

  // TOTP for `op` (for the replay cases), done before the snapshot of "what exists".
  const oc = await s.login(op);
  const secret = ((await s.req({ path: '/api/security/totp/enroll', cookie: oc, body: {} })).json as { secret: string }).secret;
  const code = (offset = 0) => OTPAuth.TOTP.generate({ secret: OTPAuth.Secret.fromBase32(secret), timestamp: Date.now() + offset });
  const confirmCode = code();
  const recovery = ((await s.req({ path: '/api/security/totp/confirm', cookie: oc, body: { code: confirmCode } })).json as { recovery_codes: string[] }).recovery_codes;
  assert.equal(recovery.length, 10);
  const dataBefore = listFiles(s.dataDir);
  const keysBefore = await keyCount();

  const cases: Case[] = [];
  let group: string | undefined;
  const add = (name: string, req: Case['req'], ok: Case['ok'] = refused) => cases.push({ name, req, ok, ...(group ? { group } : {}) });

  // ── A. malformed JSON × every JSON route the suite can reach ──
  const jsonRoutes: Array<{ method: string; path: string; auth: boolean }> = [
    { method: 'POST', path: '/api/auth/login', auth: false },
    { method: 'POST', path: '/api/apikeys', auth: true },
    { method: 'POST', path: '/api/security/roles', auth: true },
    { method: 'PUT', path: '/api/security/settings', auth: true },
    { method: 'PUT', path: `/api/users/${admin.name}/role`, auth: true },
    { method: 'POST', path: '/api/security/totp/confirm', auth: true },
    ...routes.filter((r) => r.access !== 'public' && r.method !== 'get' && (r.body ?? 'json') === 'json' && !r.path.includes(':') && r.method === 'post' && ['/cloud/link'].includes(r.path))
      .map((r) => ({ method: r.method.toUpperCase(), path: '/api' + r.path, auth: true })),
  ];
  const malformed: Array<[string, string | Buffer]> = [
    ['open brace', '{'], ['truncated', '{"a":'], ['open bracket', '['], ['bare word', 'nul'], ['trailing brace', '{"a":1}}'],
    ['NUL', '\u0000'], ['trailing comma', '{"username":"a","password":"b",}'], ['single quotes', "{'a':1}"],
    ['string', '"str"'], ['number', '123'], ['null', 'null'], ['true', 'true'], ['array', '[]'],
    ['deep nesting', '['.repeat(5000) + ']'.repeat(5000)], ['BOM', '\ufeff{"a":1'], ['invalid UTF-8', Buffer.from([0xff, 0xfe, 0x7b, 0x7d])],
    ['proto pollution', '{"__proto__":{"isAdmin":true,"role":"admin"},"constructor":{"prototype":{"x":1}}}'], ['huge exponent', '{"a":1e999999}'],
  ];
  for (const r of jsonRoutes) for (const [label, raw] of malformed) {
    add(`malformed JSON (${label}) → ${r.method} ${r.path}`, () => ({ method: r.method, path: r.path, raw, headers: { 'content-type': 'application/json' }, ...(r.auth ? { bearer: all.key } : { from: '127.0.0.9' }) }));
  }
  // ── B. oversized ──
  for (const r of jsonRoutes) {
    add(`17 KB body → ${r.path}`, () => ({ method: r.method, path: r.path, body: { name: 'a'.repeat(17 * 1024) }, ...(r.auth ? { bearer: all.key } : { from: '127.0.0.9' }) }), status(413));
    add(`2 MB body → ${r.path}`, () => ({ method: r.method, path: r.path, raw: '{"name":"' + 'a'.repeat(2 * 1024 * 1024) + '"}', headers: { 'content-type': 'application/json' }, ...(r.auth ? { bearer: all.key } : { from: '127.0.0.9' }) }), status(413));
  }
  cases.push({ name: '20 KB header', req: () => ({ path: '/api/health', headers: { 'x-junk': 'a'.repeat(20 * 1024) } }), ok: status(431, 400), resetOk: true });
  cases.push({ name: '70 KB URL', req: () => ({ path: '/api/audit?actor=' + 'a'.repeat(70 * 1024), bearer: all.key }), ok: status(431, 414, 400), resetOk: true });
  add('10k query params', () => ({ path: '/api/audit?' + Array.from({ length: 3000 }, (_, i) => `p${i}=1`).join('&'), bearer: all.key }), (r) => r.status < 500 ? true : `got ${r.status}`);

  // ── C. wrong types ──
  const login = (body: unknown): Case['req'] => () => ({ path: '/api/auth/login', body, from: '127.0.0.9' });
  for (const [label, body] of Object.entries({
    'username number': { username: 123, password: 'x' }, 'username array': { username: ['root'], password: 'x' }, 'username object': { username: { $ne: 1 }, password: 'x' },
    'username true': { username: true, password: 'x' }, 'password number': { username: 'root', password: 0 }, 'password array': { username: 'root', password: [] },
    'password null': { username: admin.name, password: null }, 'both username and email': { username: 'a', email: 'b@c', password: 'x' }, 'neither': { password: 'x' },
    'email object': { email: {}, password: 'x' }, 'totp object': { username: op.name, password: op.password, totp: {} }, 'totp array': { username: op.name, password: op.password, totp: ['123456'] },
    'totp number': { username: op.name, password: op.password, totp: 123456 }, 'totp true': { username: op.name, password: op.password, totp: true },
  })) add(`login with ${label}`, login(body));
  const key = (body: unknown): Case['req'] => () => ({ path: '/api/apikeys', body, bearer: all.key });
  for (const [label, body] of Object.entries({
    'name object': { name: {}, role: 'viewer' }, 'name array': { name: ['a'], role: 'viewer' }, 'name number': { name: 1, role: 'viewer' },
    'permissions string': { name: 'k', permissions: 'files.read' }, 'permissions numbers': { name: 'k', permissions: [1, 2] }, 'permissions null item': { name: 'k', permissions: [null] },
    'permissions object': { name: 'k', permissions: { 0: 'files.read' } }, 'permissions unknown': { name: 'k', permissions: ['root'] }, 'permissions nested': { name: 'k', permissions: [['files.read']] },
    'role number': { name: 'k', role: 5 }, 'role array': { name: 'k', role: ['admin'] }, 'role proto': { name: 'k', role: '__proto__' }, 'role constructor': { name: 'k', role: 'constructor' },
    'expiry string': { name: 'k', role: 'viewer', expires_in_days: '1' }, 'expiry negative': { name: 'k', role: 'viewer', expires_in_days: -1 }, 'expiry huge': { name: 'k', role: 'viewer', expires_in_days: 1e308 },
    'expiry fraction': { name: 'k', role: 'viewer', expires_in_days: 0.5 }, 'expires_at number': { name: 'k', role: 'viewer', expires_at: 5 }, 'expires_at invalid date': { name: 'k', role: 'viewer', expires_at: '2099-13-45' },
    'expires_at past': { name: 'k', role: 'viewer', expires_at: '1999-01-01T00:00:00Z' }, 'both role and permissions': { name: 'k', role: 'viewer', permissions: ['files.read'] },
  })) add(`API key with ${label}`, key(body));
  for (const [label, body] of Object.entries({
    'name array': { name: [], permissions: ['files.read'] }, 'name number': { name: 1, permissions: ['files.read'] }, 'name too long': { name: 'a'.repeat(33), permissions: ['files.read'] },
    'name uppercase': { name: 'Admin', permissions: ['files.read'] }, 'name builtin': { name: 'admin', permissions: ['files.read'] }, 'permissions null': { name: 'r1', permissions: null },
    'permissions object': { name: 'r1', permissions: {} }, 'name traversal': { name: '../../etc', permissions: ['files.read'] },
  })) add(`custom role with ${label}`, () => ({ path: '/api/security/roles', body, bearer: all.key }));
  for (const [label, body] of Object.entries({ 'string': { enforce_2fa: 'true' }, 'number': { enforce_2fa: 1 }, 'null': { enforce_2fa: null }, 'array': { enforce_2fa: [] }, 'extra key': { enforce_2fa: false, admin: true } })) {
    add(`2FA setting ${label}`, () => ({ method: 'PUT', path: '/api/security/settings', body, bearer: all.key }));
  }
  for (const [label, body] of Object.entries({ 'number': { role: 5 }, 'array': { role: [] }, 'object': { role: {} }, 'unknown': { role: 'nosuch' }, 'proto': { role: '__proto__' }, 'constructor': { role: 'constructor' } })) {
    add(`user role ${label}`, () => ({ method: 'PUT', path: `/api/users/${op.name}/role`, body, bearer: all.key }));
  }

  // ── D. header spoofing: nothing a client writes makes it local, and only our names are served ──
  for (const [h, v] of [['x-forwarded-for', '127.0.0.1'], ['x-forwarded-for', '127.0.0.1, 127.0.0.1'], ['x-real-ip', '127.0.0.1'], ['forwarded', 'for=127.0.0.1;proto=https'],
    ['true-client-ip', '127.0.0.1'], ['x-client-ip', '::1'], ['x-forwarded-host', 'localhost'], ['host', `127.0.0.1:${s.port}`], ['host', `[::1]:${s.port}`], ['x-original-url', '/api/health']] as const) {
    add(`spoofed ${h}: ${v} does not grant local`, () => ({ path: '/api/audit', headers: { [h]: v } }), status(401));
  }
  for (const host of ['evil.example', `evil.example:${s.port}`, 'localhost.evil.example', `localhost@evil.example`, '127.0.0.1.nip.io', 'printbox-test.evil', 'local host', `localhost:${s.port}/x`, '[::1].evil']) {
    add(`Host "${host}" refused (DNS rebinding)`, () => ({ path: '/api/health', headers: { host } }), status(403, 400));
  }
  const evilCreate = (headers: Record<string, string>): Case['req'] => () => ({ path: '/api/apikeys', body: { name: 'origin-attack', role: 'admin' }, bearer: all.key, headers });
  for (const origin of ['https://evil.example', 'null', `http://localhost:${s.port}`, `https://localhost:${s.port}.evil.example`, 'https://localhost', `https://localhost:${s.port}@evil.example`, 'file://', 'garbage']) {
    add(`Origin ${origin} refused`, evilCreate({ origin }), status(403));
  }
  add('Sec-Fetch-Site cross-site without Origin refused', evilCreate({ 'sec-fetch-site': 'cross-site' }), status(403));

  // ── E. CSRF with a real session cookie: non-JSON bodies and foreign origins change nothing ──
  const csrf = (method: string, p: string, raw: string, type: string, extra: Record<string, string> = {}): Case['req'] => async () => ({ method, path: p, raw, cookie: await fresh(), headers: { 'content-type': type, ...extra } });
  add('CSRF text/plain JSON → apikeys', csrf('POST', '/api/apikeys', '{"name":"csrf","role":"admin"}', 'text/plain'), status(415));
  add('CSRF form-urlencoded → apikeys', csrf('POST', '/api/apikeys', 'name=csrf&role=admin', 'application/x-www-form-urlencoded'), status(415));
  add('CSRF multipart → apikeys', csrf('POST', '/api/apikeys', '--b\r\nContent-Disposition: form-data; name="name"\r\n\r\ncsrf\r\n--b--\r\n', 'multipart/form-data; boundary=b'), status(415));
  add('CSRF text/plain → settings', csrf('PUT', '/api/security/settings', '{"enforce_2fa":true}', 'text/plain'), status(415));
  add('CSRF form → user role', csrf('PUT', `/api/users/${op.name}/role`, 'role=admin', 'application/x-www-form-urlencoded'), status(415));
  add('CSRF JSON with evil Origin → apikeys', csrf('POST', '/api/apikeys', '{"name":"csrf","role":"admin"}', 'application/json', { origin: 'https://evil.example' }), status(403));
  add('CSRF JSON with evil Origin → end sessions', csrf('DELETE', '/api/sessions', '', 'application/json', { origin: 'https://evil.example' }), status(403));
  add('CSRF JSON with evil Origin → logout', csrf('POST', '/api/auth/logout', '', 'application/json', { origin: 'https://evil.example' }), status(403));
  add('CSRF no content-type with body', async () => ({ method: 'POST', path: '/api/apikeys', raw: '{"name":"csrf","role":"admin"}', cookie: await fresh() }), status(415));

  // ── F. session fixation and forged cookies ──
  const fixation = (cookieFor: () => Promise<string>): Case['req'] => async () => {
    const planted = await cookieFor();
    const r = await s.req({ path: '/api/auth/login', body: { username: admin.name, password: admin.password }, cookie: planted });
    const issued = cookieOf(r);
    if (r.status !== 200 || !issued || issued === planted) return { path: '/__fixation_failed__' };
    return { path: '/api/auth/session', cookie: planted }; // the planted id must not be signed in now
  };
  add('fixation: attacker-chosen sid', fixation(async () => 'printbox.sid=s%3Aattacker-chosen-id.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'), status(401));
  add('fixation: previously valid, logged-out sid', fixation(async () => { const c = await fresh(true); await s.req({ path: '/api/auth/logout', cookie: c, body: {} }); return c; }), status(401));
  add('fixation: a live sid presented at login is replaced', fixation(() => fresh(true)), status(401));
  add('forged unsigned cookie', () => ({ path: '/api/auth/session', cookie: 'printbox.sid=abc' }), status(401));
  add('tampered cookie signature', async () => { const c = await fresh(); return { path: '/api/auth/session', cookie: c.slice(0, -3) + (c.endsWith('A') ? 'BBB' : 'AAA') }; }, status(401));
  add('cookie with NUL', () => ({ path: '/api/auth/session', cookie: 'printbox.sid=s%3A%00.x' }), status(401, 400));
  add('cookie flags Secure, HttpOnly, SameSite=Strict', () => ({ path: '/api/auth/login', body: { username: admin.name, password: admin.password } }),
    (r) => { const c = String(r.headers['set-cookie']); return /Secure/.test(c) && /HttpOnly/.test(c) && /SameSite=Strict/.test(c) ? true : `flags: ${c}`; });

  // ── G. expired / revoked keys and sessions ──
  add('revoked key', async () => { const k = await s.key({ name: 'rv', role: 'viewer' }); await s.req({ method: 'DELETE', path: `/api/apikeys/${k.id}`, bearer: all.key }); return { path: '/api/auth/session', bearer: k.key }; }, status(401));
  add('expired key', async () => {
    const r = await s.req({ path: '/api/apikeys', bearer: all.key, body: { name: 'exp', role: 'viewer', expires_at: new Date(Date.now() + 1500).toISOString() } });
    const k = (r.json as { key: string }).key;
    if ((await s.req({ path: '/api/auth/session', bearer: k })).status !== 200) return { path: '/__key_never_worked__' };
    await new Promise((res) => setTimeout(res, 2000));
    return { path: '/api/auth/session', bearer: k };
  }, status(401));
  add('key with a flipped character', () => ({ path: '/api/auth/session', bearer: all.key.slice(0, -1) + (all.key.endsWith('x') ? 'y' : 'x') }), status(401));
  add('key prefix only', () => ({ path: '/api/auth/session', bearer: all.key.slice(0, 12) }), status(401));
  add('lowercase bearer scheme', () => ({ path: '/api/auth/session', headers: { authorization: `bearer ${all.key}` } }), status(401));
  add('Basic scheme with the key', () => ({ path: '/api/auth/session', headers: { authorization: `Basic ${Buffer.from(all.key).toString('base64')}` } }), status(401));
  add('key in query string', () => ({ path: `/api/auth/session?api_key=${all.key}` }), status(400));
  add('key in access_token query', () => ({ path: `/api/apikeys?access_token=${all.key}` }), status(400));
  add('logged-out session', async () => { const c = await fresh(true); await s.req({ path: '/api/auth/logout', cookie: c, body: {} }); return { path: '/api/auth/session', cookie: c }; }, status(401));
  add('session ended by its owner elsewhere', async () => {
    const victim = await fresh(true); const other = await fresh();
    const mine = (await s.req({ path: '/api/sessions', cookie: victim })).json as Array<{ id: string; current: boolean }>;
    await s.req({ method: 'DELETE', path: `/api/sessions/${mine.find((x) => x.current)!.id}`, cookie: other });
    return { path: '/api/auth/session', cookie: victim };
  }, status(401));
  group = 'slow-1';
  add('session past its absolute lifetime', async () => { const c = await fresh(true); await new Promise((res) => setTimeout(res, 11_500)); return { path: '/api/auth/session', cookie: c }; }, status(401));
  group = undefined;

  // ── H. TOTP replay and junk codes (op has TOTP) ──
  const opLogin = (totp: unknown): Case['req'] => () => ({ path: '/api/auth/login', body: { username: op.name, password: op.password, totp }, from: '127.0.0.8' });
  add('TOTP: the enrollment code replayed at login', opLogin(confirmCode), status(401));
  let next: string | undefined; // computed when the case runs (the suite takes longer than a time step)
  add('TOTP: a fresh code works once (control)', () => opLogin((next = code(30_000)))(), status(200));
  add('TOTP: the same code replayed', () => opLogin(next)(), status(401, 429));
  add('TOTP: recovery code works once (control)', opLogin(recovery[0]), status(200));
  add('TOTP: recovery code reused', opLogin(recovery[0]), status(401, 429));
  add('TOTP required: no code, no session', opLogin(undefined), (r) => r.status === 401 && errCode(r) === 'totp_required' && !cookieOf(r) ? true : `got ${r.status} ${r.text}`);
  group = 'totp-junk';
  for (const junk of ['000000', '12345', '１２３４５６', '123456\u0000', '\u202e654321', 'x'.repeat(65), '', '0x1E240']) {
    add(`TOTP junk ${JSON.stringify(junk).slice(0, 20)}`, opLogin(junk), status(400, 401, 429));
  }
  group = undefined;

  // ── I. path traversal in every parameter of every route, the static UI, and uploads ──
  const traversal = ['..%2F..%2F..%2Fetc%2Fpasswd', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '..%5C..%5C..%5Cwindows%5Cwin.ini', '%252e%252e%252fetc%252fpasswd', `${MARK}..%00.gcode`,
    '%00', '....%2F%2F....%2F%2Fetc%2Fpasswd', '%C0%AE%C0%AE%2F%C0%AE%C0%AE%2Fetc%2Fpasswd', `${MARK}%2F..%2F..%2F..%2Ftmp%2F${MARK}`, 'a'.repeat(5000), '%E2%80%AE', '..', '%E0%A4%A'];
  for (const r of routes.filter((x) => x.path.includes(':'))) {
    for (const p of traversal) {
      const url = '/api' + r.path.replace(/[{}]/g, '').replace(/:\w+/g, p);
      add(`traversal ${r.method.toUpperCase()} ${r.path} ← ${p.slice(0, 30)}`, () => ({ method: r.method.toUpperCase(), path: url, bearer: all.key, ...(r.method === 'get' ? {} : { body: {} }) }), noLeak);
    }
  }
  for (const p of ['/..%2F..%2F..%2Fetc%2Fpasswd', '/assets/..%2F..%2F..%2F..%2Fetc%2Fpasswd', '/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/assets/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd', '/api/../../etc/passwd', '/api/%2e%2e/%2e%2e/etc/passwd']) {
    add(`static traversal ${p}`, () => ({ path: p, bearer: all.key }), (r) => /root:.*:0:0:/.test(r.text) ? 'leaked /etc/passwd' : r.status < 500 ? true : `got ${r.status}`);
  }
  for (const r of routes.filter((x) => x.body === 'multipart')) {
    for (const fname of [`../../../../tmp/${MARK}.gcode`, `..\\..\\${MARK}.gcode`, `/etc/${MARK}.gcode`, `${MARK}\u0000.gcode`, `%2e%2e%2f${MARK}.gcode`, `../${MARK}.gcode`, `.${MARK}/../../x.gcode`]) {
      const body = `--b\r\nContent-Disposition: form-data; name="file"; filename="${fname}"\r\nContent-Type: application/octet-stream\r\n\r\nG28\n\r\n--b--\r\n`;
      add(`upload traversal ${r.path} ← ${JSON.stringify(fname)}`, () => ({ method: r.method.toUpperCase(), path: '/api' + r.path.replace(/:\w+/g, 'x'), raw: body, bearer: all.key, headers: { 'content-type': 'multipart/form-data; boundary=b' } }),
        (rep) => { if (rep.status >= 200 && rep.status < 300) { const n = String((rep.json as { name?: string })?.name ?? ''); return /[/\\]|^\.\.?$|\u0000/.test(n) ? `stored as ${n}` : true; } return refused(rep); });
    }
  }

  // ── J. unicode, NUL, very long strings ──
  group = 'unicode-logins';
  for (const u of ['admin\u0000', `${admin.name}\u0000`, '\u202eadmin', '😀', 'a'.repeat(65), 'ｒｏｏｔ', 'root', 'ROOT', '../../etc/passwd', "' OR 1=1 --", 'a\u0301\u0301\u0301', `${admin.name} `, '\ud800']) {
    add(`login username ${JSON.stringify(u).slice(0, 24)}`, login({ username: u, password: 'x' }), status(400, 401, 429));
  }
  group = undefined;
  add('login 100 KB username', login({ username: 'a'.repeat(100_000), password: 'x' }), status(413));
  add('login 1 KB + password', login({ username: 'root', password: 'p'.repeat(1025) }), status(400, 401, 429));
  for (const n of ['x\u0000y', 'a\u202eb', '😀😀', 'a'.repeat(65), "x'); DROP TABLE api_keys;--", '<script>alert(1)</script>', ' ', '\u0007bell']) {
    add(`API key name ${JSON.stringify(n).slice(0, 24)}`, key({ name: n, role: 'viewer' }));
  }
  for (const q of ['limit=-1', 'limit=1e3', 'limit=99999999999', 'limit=abc', 'before=abc', 'before=0', `actor=${'a'.repeat(300)}`, 'limit=1&limit=2', 'action[]=x', 'format=xml']) {
    add(`audit query ${q.slice(0, 30)}`, () => ({ path: `/api/audit${q.startsWith('format') ? '/export' : ''}?${q}`, bearer: all.key }), status(400));
  }
  for (const p of ['/api/users/%00/role', '/api/users/%F0%9F%92%A9/role', `/api/users/${'u'.repeat(300)}/role`, '/api/users/%E2%80%AEnimda/role']) {
    add(`user param ${p.slice(10, 40)}`, () => ({ method: 'PUT', path: p, body: { role: 'admin' }, bearer: all.key }), status(400, 404));
  }
  add('unknown method on a route', () => ({ method: 'PATCH', path: '/api/apikeys', body: {}, bearer: all.key }), status(404, 405));
  add('TRACE', () => ({ method: 'TRACE', path: '/api/health' }), status(404, 405, 400));

  // ── run ──
  let passed = 0;
  const failures: string[] = [];
  const slow: Array<[number, string]> = [];
  const runOne = async (c: Case) => {
    const t0 = Date.now();
    let verdict: true | string;
    try {
      const r = await s.req(await c.req());
      verdict = c.ok!(r);
      if (verdict === true && r.status >= 500 && !(r.status === 503 && errCode(r) === 'service_unavailable')) verdict = `server error ${r.status}`;
    } catch (e) {
      verdict = c.resetOk && /ECONNRESET|EPIPE/.test((e as Error).message) ? true : `request failed: ${(e as Error).message}`;
    }
    if (verdict === true && !s.alive()) verdict = 'a service died';
    if (verdict === true) passed++; else failures.push(`${c.name}: ${verdict}`);
    slow.push([Date.now() - t0, c.name]);
  };
  for (let i = 0; i < cases.length;) {
    const g = cases[i]!.group;
    let j = i + 1;
    while (g && j < cases.length && cases[j]!.group === g) j++;
    await Promise.all(cases.slice(i, j).map(runOne));
    i = j;
  }
  if (process.env.HOSTILE_TIMING) for (const [ms, n] of slow.sort((a, b) => b[0] - a[0]).slice(0, 25)) process.stdout.write(`${ms} ms ${n}\n`);

  // Afterwards: state unchanged where it must be.
  const after = await keyCount();
  const extraKeys = after - keysBefore - 2; // 'rv' and 'exp' made by the cases themselves
  const checks: Array<[string, true | string]> = [
    ['no API key created by hostile requests', extraKeys === 0 ? true : `${extraKeys} extra keys`],
    ['2FA enforcement unchanged', ((await s.req({ path: '/api/security/settings', bearer: all.key })).json as { enforce_2fa: boolean }).enforce_2fa === false ? true : 'changed'],
    ['op still operator', ((await s.req({ path: '/api/users', bearer: all.key })).json as Array<{ username: string; assigned_role: string | null }>).find((u) => u.username === op.name)?.assigned_role === null ? true : 'role changed'],
    // (other test files may add accounts concurrently, so look for our marker rather than mtimes)
    ['/etc/passwd and /etc/group carry no injected entry', /pbpwn|root:x:0:0:.*\n.*root:x:0:0/.test(fs.readFileSync('/etc/passwd', 'utf8') + fs.readFileSync('/etc/group', 'utf8')) ? 'marker found' : true],
    ['data dir: only database journals and uploads are new', (() => {
      const extra = listFiles(s.dataDir).filter((f) => !dataBefore.includes(f) && !/^printbox\.db(-wal|-shm|-journal)?$/.test(f) && !f.startsWith('files/') && !f.startsWith('gcode/'));
      return extra.length === 0 ? true : `new: ${extra.join(', ')}`;
    })()],
    [`no file named *${MARK}* outside the upload dir`, (() => {
      const found = execFileSync('find', ['/tmp', '/etc', '/var/lib', '/work/main', '-xdev', '-newermt', `@${Math.floor(started / 1000)}`, '-name', `*${MARK}*`, '-not', '-path', '*/node_modules/*'], { encoding: 'utf8' })
        .split('\n').filter(Boolean).filter((f) => !f.startsWith(path.join(s.dataDir, 'files')) && !f.startsWith(path.join(s.dataDir, 'gcode')));
      return found.length === 0 ? true : `found ${found.join(', ')}`;
    })()],
    ['login failures and lockouts are in the audit log', await (async () => {
      const rows = (await s.req({ path: '/api/audit?limit=1000&action=auth.lockout', bearer: all.key })).json as unknown[];
      const fails = (await s.req({ path: '/api/audit?limit=1000&action=auth.login', bearer: all.key })).json as Array<{ outcome: string }>;
      return rows.length > 0 && fails.some((r) => r.outcome === 'failure') ? true : `lockouts ${rows.length}`;
    })()],
    ['services alive at the end', s.alive() ? true : 'dead'],
  ];
  for (const [name, v] of checks) { if (v === true) passed++; else failures.push(`${name}: ${v}`); }

  for (const f of failures) process.stdout.write(`FAIL ${f}\n`);
  process.stdout.write(`${passed} passed, ${failures.length} failed\n`);
  assert.deepEqual(failures, []);
  assert.ok(passed >= 200, `only ${passed} cases`);
});
