/**
 * A push socket (/octoprint/<printer>/sockjs) authenticated with the session key of a passive login made
 * with a PrintBox session cookie ends with that session: logout gives `reauthRequired` and a close, and
 * the key no longer authenticates. Real PAM account, auth helper, printer service with a virtual printer,
 * web over HTTPS from 127.0.0.2 (not the local-machine bypass).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createUser, ensureGroup, type TestUser } from '../helpers/pam.ts';
import { openPush } from '../helpers/push-socket.ts';
import { request, sessionCookie, startAuth, startVirtualPrinters, startWeb, tempDir, type AuthHelper, type Service, type WebServer } from '../helpers/web.ts';

let auth: AuthHelper;
let printer: Service;
let web: WebServer;
const users: TestUser[] = [];

before(async () => {
  ensureGroup('printbox');
  const base = tempDir('octo-push-session');
  const runDir = path.join(base, 'run');
  auth = await startAuth({ runDir });
  printer = await startVirtualPrinters({ base, runDir });
  web = await startWeb({ dataDir: path.join(base, 'data'), runDir });
});

after(async () => {
  await web?.stop();
  await printer?.stop();
  await auth?.stop();
  for (const u of users) u.remove();
});

test('a socket authenticated through a session cookie ends at logout', { timeout: 60_000 }, async () => {
  const u = createUser({ groups: ['printbox'] });
  users.push(u);
  const signed = await request(web, { method: 'POST', path: '/api/auth/login', body: { username: u.name, password: u.password } });
  assert.equal(signed.status, 200, signed.text);
  const cookie = sessionCookie(signed)!;
  const printers = await request(web, { path: '/api/printers', cookie });
  const printerId = (JSON.parse(printers.text) as Array<{ id: string }>)[0]!.id; // GET /api/printers is an array
  const login = await request(web, { method: 'POST', path: `/octoprint/${printerId}/api/login`, cookie, body: { passive: true } });
  assert.equal(login.status, 200, login.text);
  assert.equal(login.json.name, u.name);
  const session = String(login.json.session);
  assert.ok(!cookie.includes(session), 'the session key is not the cookie');

  const ws = await openPush(web, printerId);
  await ws.next('connected');
  ws.send({ auth: `${u.name}:${session}` });
  await ws.next('history');
  await ws.next('current');
  const out = await request(web, { method: 'POST', path: '/api/auth/logout', cookie });
  assert.ok(out.status < 300, out.text);
  assert.equal((await ws.next('reauthRequired', () => true, 5000)).reason, 'logout');
  assert.equal((await ws.closed).code, 4001);

  const again = await openPush(web, printerId);
  await again.next('connected');
  again.send({ auth: `${u.name}:${session}` });
  // the key is still within its 5 minutes, but its session is gone
  assert.equal((await again.next('reauthRequired')).reason, 'stale');
  assert.ok(!again.messages.some((m) => 'history' in m));
  again.ws.close();
});
