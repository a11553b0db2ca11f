/**
 * Real system accounts (useradd/chpasswd), the real PAM helper as root on a
 * Unix socket, and the real web service over HTTPS on loopback. Clients connect from 127.0.0.2 so
 * they are NOT local; the few 127.0.0.1 requests are the controls that prove the checks can fail.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { IpcClient } from '../../services/shared/ipc-transport.ts';
import type { AuthApi } from '../../services/shared/ipc.ts';
import { createUser, ensureGroup, expireAccount, lockAccount, type TestUser } from '../helpers/pam.ts';
import { pamCalls, request, sessionCookie, startAuth, startWeb, tempDir, type AuthHelper, type WebServer } from '../helpers/web.ts';

let auth: AuthHelper;
let web: WebServer;
let dropGroup: () => void;
const users: TestUser[] = [];
let member: TestUser;
let outsider: TestUser;

const login = (body: unknown, extra: { localAddress?: string; headers?: Record<string, string> } = {}) =>
  request(web, { method: 'POST', path: '/api/auth/login', body, ...extra });

before(async () => {
  dropGroup = ensureGroup('printbox');
  member = createUser({ groups: ['printbox'] });
  outsider = createUser();
  users.push(member, outsider);
  const dir = tempDir('web-auth');
  auth = await startAuth({ runDir: path.join(dir, 'run') });
  // role of a PAM user comes from the group map; map our group to admin explicitly
  web = await startWeb({ dataDir: path.join(dir, 'data'), runDir: path.join(dir, 'run'), env: { PRINTBOX_ROLE_MAP: 'printbox:admin' } });
});

after(async () => {
  await web?.stop();
  await auth?.stop();
  users.forEach((u) => u.remove());
  dropGroup?.();
});

describe('PAM login', () => {
  test('right password → 200 and a working session cookie (Secure, HttpOnly, SameSite=Strict)', async () => {
    const r = await login({ username: member.name, password: member.password });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { user: member.name, method: 'pam' });
    const set = String(r.headers['set-cookie']);
    assert.match(set, /printbox\.sid=/);
    assert.match(set, /; Secure/i);
    assert.match(set, /; HttpOnly/i);
    assert.match(set, /; SameSite=Strict/i);
    const cookie = sessionCookie(r)!;
    const s = await request(web, { path: '/api/auth/session', cookie });
    assert.equal(s.status, 200, s.text);
    assert.deepEqual(s.json, { user: member.name, method: 'pam', role: 'admin' });
    // without the cookie the same non-local client is nobody
    assert.equal((await request(web, { path: '/api/auth/session' })).status, 401);
    // logout destroys it
    const out = await request(web, { method: 'POST', path: '/api/auth/logout', cookie });
    assert.equal(out.status, 204);
    assert.equal((await request(web, { path: '/api/auth/session', cookie })).status, 401);
  });

  test('login regenerates the session id (no fixation)', async () => {
    const first = sessionCookie(await login({ username: member.name, password: member.password }))!;
    const second = await login({ username: member.name, password: member.password }, { headers: { Cookie: first } });
    assert.equal(second.status, 200);
    assert.notEqual(sessionCookie(second), first);
    assert.equal((await request(web, { path: '/api/auth/session', cookie: first })).status, 401);
  });

  test('wrong password and unknown user → the same 401', async () => {
    const [wrong, unknown] = await Promise.all([
      login({ username: member.name, password: 'not-the-password' }),
      login({ username: 'pbt_nosuchuser', password: 'whatever' }),
    ]);
    assert.equal(wrong.status, 401);
    assert.equal(unknown.status, 401);
    assert.deepEqual(wrong.json, unknown.json);
    assert.equal(wrong.headers['set-cookie'], undefined);
  });

  test('right password but outside PRINTBOX_PAM_GROUPS → 401 (same error)', async () => {
    const r = await login({ username: outsider.name, password: outsider.password });
    assert.equal(r.status, 401);
    assert.equal(r.json.error?.code, 'unauthorized');
    assert.ok(auth.lines.some((l) => l.includes(outsider.name) && l.includes('not a member')), 'helper logs the real reason');
  });

  test('root → 401, also a uid-0 alias with the right password in group printbox', async () => {
    assert.equal((await login({ username: 'root', password: 'anything' })).status, 401);
    const alias = createUser({ uid0: true, groups: ['printbox'] });
    users.push(alias);
    const r = await login({ username: alias.name, password: alias.password });
    assert.equal(r.status, 401);
    assert.ok(auth.lines.some((l) => l.includes(alias.name) && l.includes('root is not allowed')));
    // control: a helper that lists "root" accepts the very same account, so the refusal above is policy
    const dir = tempDir('auth-root');
    const permissive = await startAuth({ runDir: dir, groups: 'printbox,root' });
    try {
      const client = new IpcClient<AuthApi>({ path: path.join(dir, 'auth.sock'), service: 'auth' });
      const ok = await client.call('pam.authenticate', { username: alias.name, password: alias.password });
      assert.equal(ok.username, alias.name);
    } finally { await permissive.stop(); }
  });

  test('expired and locked accounts are refused (pam_acct_mgmt rules)', async () => {
    const a = createUser({ groups: ['printbox'] });
    const b = createUser({ groups: ['printbox'] });
    users.push(a, b);
    const client = new IpcClient<AuthApi>({ path: path.join(auth.runDir, 'auth.sock'), service: 'auth' });
    // control: both work before
    assert.equal((await client.call('pam.authenticate', { username: a.name, password: a.password })).username, a.name);
    expireAccount(a.name);
    lockAccount(b.name);
    const [ra, rb] = await Promise.all([login({ username: a.name, password: a.password }), login({ username: b.name, password: b.password })]);
    assert.equal(ra.status, 401);
    assert.equal(rb.status, 401);
    assert.ok(auth.lines.some((l) => l.includes(a.name) && l.includes('account expired')));
  });
});

test('the PAM helper socket is not world-accessible', () => {
  const st = fs.statSync(path.join(auth.runDir, 'auth.sock'));
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o660);
});

describe('throttling before PAM', () => {
  test('20 rapid wrong attempts on one account → 429 + Retry-After, far fewer than 20 PAM calls', async () => {
    const victim = createUser({ groups: ['printbox'] });
    users.push(victim);
    const replies = await Promise.all(Array.from({ length: 20 }, () =>
      login({ username: victim.name, password: 'wrong' }, { localAddress: '127.0.0.3' })));
    const limited = replies.filter((r) => r.status === 429);
    assert.ok(limited.length >= 10, `expected most attempts throttled, got ${replies.map((r) => r.status).join(',')}`);
    assert.ok(replies.every((r) => r.status === 401 || r.status === 429));
    assert.match(String(limited[0]!.headers['retry-after']), /^\d+$/);
    assert.equal(limited[0]!.json.error?.code, 'too_many_attempts');
    const calls = pamCalls(auth, victim.name);
    assert.ok(calls >= 1 && calls <= 5, `PAM was called ${calls} times`);
    // the account stays throttled from another address too, even with the right password (no PAM call)
    const fromElsewhere = await login({ username: victim.name, password: victim.password }, { localAddress: '127.0.0.5' });
    assert.equal(fromElsewhere.status, 429);
    assert.equal(pamCalls(auth, victim.name), calls);
  });

  test('one address spraying many accounts is throttled per IP', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `pbt_spray${i}`);
    const replies = await Promise.all(names.map((n) => login({ username: n, password: 'wrong' }, { localAddress: '127.0.0.4' })));
    assert.ok(replies.filter((r) => r.status === 429).length >= 5, replies.map((r) => r.status).join(','));
    const calls = names.reduce((sum, n) => sum + pamCalls(auth, n), 0);
    assert.ok(calls <= 10, `PAM was called ${calls} times`);
  });
});

describe('local bypass, Host and Origin', () => {
  test('X-Forwarded-For: 127.0.0.1 from 127.0.0.2 is not local', async () => {
    const spoof = { 'X-Forwarded-For': '127.0.0.1', Forwarded: 'for=127.0.0.1', 'X-Real-IP': '127.0.0.1' };
    const r = await request(web, { path: '/api/auth/session', headers: spoof, localAddress: '127.0.0.2' });
    assert.equal(r.status, 401);
    // Host: localhost is allowed but must not grant anything either
    const h = await request(web, { path: '/api/auth/session', headers: { ...spoof, Host: 'localhost' }, localAddress: '127.0.0.2' });
    assert.equal(h.status, 401);
    // control: the machine itself (socket address 127.0.0.1) is local
    const local = await request(web, { path: '/api/auth/session', localAddress: '127.0.0.1' });
    assert.equal(local.status, 200);
    assert.deepEqual(local.json, { user: 'local', method: 'local', role: 'admin' });
  });

  test('a foreign Host is refused (DNS rebinding), even from the machine itself', async () => {
    for (const host of ['evil.example', 'evil.example:443', `attacker.test:${web.httpsPort}`]) {
      const r = await request(web, { path: '/api/health', headers: { Host: host }, localAddress: '127.0.0.1' });
      assert.equal(r.status, 403, `Host "${host}" → ${r.status}`);
      assert.equal(r.json.error?.code, 'host_not_allowed');
    }
    // HTTP/1.0 without any Host header
    const raw = await new Promise<string>((resolve, reject) => {
      const sock = tls.connect({ host: '127.0.0.1', port: web.httpsPort, ca: web.ca, checkServerIdentity: () => undefined }, () => sock.end('GET /api/health HTTP/1.0\r\n\r\n'));
      let out = '';
      sock.on('data', (d: Buffer) => { out += d.toString(); });
      sock.on('end', () => resolve(out));
      sock.on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.[01] 403/);
    for (const host of ['localhost', `localhost:${web.httpsPort}`, '127.0.0.1', '[::1]:8443']) {
      assert.equal((await request(web, { path: '/api/health', headers: { Host: host } })).status, 200, host);
    }
  });

  test('cross-origin POST is refused before any PAM work; same-origin works', async () => {
    const before = pamCalls(auth, member.name);
    const cross = await login({ username: member.name, password: member.password }, { headers: { Origin: 'https://evil.example' } });
    assert.equal(cross.status, 403);
    assert.equal(cross.json.error?.code, 'cross_origin');
    const nullOrigin = await login({ username: member.name, password: member.password }, { headers: { Origin: 'null' } });
    assert.equal(nullOrigin.status, 403);
    const httpOrigin = await login({ username: member.name, password: member.password }, { headers: { Origin: `http://127.0.0.1:${web.httpsPort}` } });
    assert.equal(httpOrigin.status, 403);
    // a form post (text/plain) cannot carry JSON past the JSON-only rule
    const form = await login(JSON.stringify({ username: member.name, password: member.password }), { headers: { 'Content-Type': 'text/plain' } });
    assert.equal(form.status, 415);
    assert.equal(pamCalls(auth, member.name), before);
    const same = await login({ username: member.name, password: member.password }, { headers: { Origin: `https://127.0.0.1:${web.httpsPort}` } });
    assert.equal(same.status, 200, same.text);
  });
});

describe('bad input gets a clear 4xx, never a crash', () => {
  const cases: Array<[string, unknown, number, string?]> = [
    ['malformed JSON', '{"username": ', 400, 'invalid_json'],
    ['JSON array', '[1,2]', 400, 'invalid_body'],
    ['JSON string', '"x"', 400, 'invalid_json'],
    ['missing password', { username: 'x' }, 400, 'missing_field'],
    ['missing username and email', { password: 'x' }, 400, 'missing_field'],
    ['both username and email', { username: 'x', email: 'a@b.c', password: 'x' }, 400, 'missing_field'],
    ['non-string username', { username: 42, password: 'x' }, 400, 'invalid_field'],
    ['non-string password', { username: 'x', password: { $ne: 1 } }, 400, 'invalid_field'],
    ['null password', { username: 'x', password: null }, 400, 'missing_field'],
    ['huge username', { username: 'a'.repeat(10_000), password: 'x' }, 400, 'field_too_long'],
    ['oversized body', { username: 'x', password: 'p'.repeat(17 * 1024) }, 413, 'body_too_large'],
  ];
  for (const [name, body, status, code] of cases) {
    test(name, async () => {
      const r = await login(body);
      assert.equal(r.status, status, r.text);
      if (code) assert.equal(r.json.error?.code, code);
      assert.equal(typeof r.json.error?.message, 'string');
    });
  }

  test('unicode, NUL and over-long passwords are just wrong credentials', async () => {
    const [a, b, c] = await Promise.all([
      login({ username: 'üser名', password: 'pässwörd' }),
      login({ username: member.name, password: `${member.password}\u0000junk` }),
      login({ username: member.name, password: member.password + 'x'.repeat(200) }),
    ]);
    assert.deepEqual([a.status, b.status, c.status], [401, 401, 401]);
    assert.equal((await request(web, { path: '/api/health' })).status, 200, 'still serving');
  });
});
