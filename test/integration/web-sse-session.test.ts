/**
 * An open GET /api/events stream ends with the session that opened it: logout, "end this session"
 * from another session (sessions API), the account changed outside PrintBox (chpasswd), the idle
 * limit passing. Before the fix every further request got 401 while the open stream went on
 * delivering printer events. Real PAM account, auth helper, printer service with a virtual printer,
 * web over HTTPS from 127.0.0.2 (not the local-machine bypass).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createUser, ensureGroup, type TestUser } from '../helpers/pam.ts';
import { endsWithin, liveStream as liveSseStream, type Stream } from '../helpers/sse.ts';
import { request, signIn, startAuth, startVirtualPrinters, startWeb, tempDir, type AuthHelper, type Service, type WebServer } from '../helpers/web.ts';

const RECHECK_S = 1;
/** Ending a session must end its stream within this (the destroy path is immediate). */
const PROMPT_MS = 3000;

let auth: AuthHelper;
let printer: Service;
let web: WebServer;
let runDir: string;
const users: TestUser[] = [];
const streams: Stream[] = [];

const newUser = () => { const u = createUser({ groups: ['printbox'] }); users.push(u); return u; };

const status = async (w: WebServer, cookie: string) => (await request(w, { path: '/api/auth/session', cookie })).status;

const liveStream = (w: WebServer, cookie: string) => liveSseStream(w, { cookie }, streams);

before(async () => {
  ensureGroup('printbox');
  const base = tempDir('web-sse');
  runDir = path.join(base, 'run');
  auth = await startAuth({ runDir });
  printer = await startVirtualPrinters({ base, runDir });
  // the default account re-check (30 s): a stream may only end within PROMPT_MS through the destroy hook
  web = await startWeb({ dataDir: path.join(base, 'data'), runDir });
});

after(async () => {
  for (const s of streams) s.close();
  await web?.stop();
  await printer?.stop();
  await auth?.stop();
  for (const u of users) u.remove();
});

test('logout ends the open event stream of that session', { timeout: 30_000 }, async () => {
  const cookie = await signIn(web, newUser());
  const s = await liveStream(web, cookie);
  const out = await request(web, { method: 'POST', path: '/api/auth/logout', cookie });
  assert.ok(out.status < 300, out.text);
  await endsWithin(s, PROMPT_MS, 'logout');
  assert.equal(await status(web, cookie), 401);
});

test('a session ended from another session (DELETE /api/sessions/:id) loses its stream; the other stream goes on', { timeout: 40_000 }, async () => {
  const u = newUser();
  const victim = await signIn(web, u);
  const keeper = await signIn(web, u);
  const sVictim = await liveStream(web, victim);
  const sKeeper = await liveStream(web, keeper);
  const list = await request(web, { path: '/api/sessions', cookie: keeper });
  assert.equal(list.status, 200, list.text);
  const other = (list.json as unknown as Array<{ id: string; current: boolean }>).filter((x) => !x.current);
  assert.equal(other.length, 1, list.text);
  const del = await request(web, { method: 'DELETE', path: `/api/sessions/${other[0]!.id}`, cookie: keeper });
  assert.ok(del.status < 300, del.text);
  await endsWithin(sVictim, PROMPT_MS, 'the session was ended from another session');
  assert.equal(await status(web, victim), 401);
  // control: the stream of the session that stays signed in keeps delivering
  const mark = sKeeper.length;
  await sKeeper.waitFor(/event: temperatures\n/, 10_000, mark);
  assert.equal(sKeeper.isEnded(), false);
  assert.equal(await status(web, keeper), 200);
});

test('a password changed outside PrintBox (chpasswd) ends the stream without any further request', { timeout: 40_000 }, async () => {
  const recheckWeb = await startWeb({ dataDir: path.join(tempDir('web-sse-recheck'), 'data'), runDir, env: { PRINTBOX_ACCOUNT_RECHECK_S: String(RECHECK_S) } });
  try {
    const u = newUser();
    const cookie = await signIn(recheckWeb, u);
    const s = await liveStream(recheckWeb, cookie);
    await sleep(RECHECK_S * 1000 + 500);
    assert.equal(s.isEnded(), false, 'an unchanged account keeps its stream across re-checks');
    execFileSync('chpasswd', [], { input: `${u.name}:${u.password}-new\n` });
    await endsWithin(s, RECHECK_S * 1000 + PROMPT_MS, 'the password changed');
    assert.equal(await status(recheckWeb, cookie), 401);
  } finally {
    await recheckWeb.stop();
  }
});

const admin = (method: string, urlPath: string, body?: unknown) => request(web, { method, path: urlPath, body, localAddress: '127.0.0.1' });

test('a custom role losing printers.read ends the streams of its sessions at once; the session itself goes on', { timeout: 40_000 }, async () => {
  let r = await admin('POST', '/api/security/roles', { name: 'watcher', permissions: ['printers.read', 'files.read'] });
  assert.equal(r.status, 201, r.text);
  const u = newUser();
  await signIn(web, u); // known to PrintBox, so a role can be assigned
  r = await admin('PUT', `/api/users/${u.name}/role`, { role: 'watcher' });
  assert.equal(r.status, 200, r.text);
  const cookie = await signIn(web, u);
  const s = await liveStream(web, cookie);
  const other = await liveStream(web, await signIn(web, newUser())); // default role viewer: untouched
  r = await admin('PUT', '/api/security/roles/watcher', { permissions: ['files.read'] });
  assert.equal(r.status, 200, r.text);
  await endsWithin(s, PROMPT_MS, 'the role lost printers.read');
  assert.equal(await status(web, cookie), 200, 'the session is not ended, only what it may no longer see');
  assert.equal((await request(web, { path: '/api/printers', cookie })).status, 403);
  assert.equal((await request(web, { path: '/api/files', cookie })).status, 200);
  const mark = other.length;
  await other.waitFor(/event: temperatures\n/, 10_000, mark);
  assert.equal(other.isEnded(), false);
});

test('enforcing 2FA ends the stream of a session without TOTP; turning it off lets a new stream open', { timeout: 40_000 }, async () => {
  const cookie = await signIn(web, newUser());
  const s = await liveStream(web, cookie);
  let r = await admin('PUT', '/api/security/settings', { enforce_2fa: true });
  assert.equal(r.status, 200, r.text);
  try {
    await endsWithin(s, PROMPT_MS, '2FA is enforced and this account has none');
    assert.equal((await request(web, { path: '/api/printers', cookie })).status, 403);
  } finally {
    r = await admin('PUT', '/api/security/settings', { enforce_2fa: false });
    assert.equal(r.status, 200, r.text);
  }
  const again = await liveStream(web, cookie);
  assert.equal(again.isEnded(), false);
});

test('the idle limit passing while only the stream is open ends it; SIGTERM then stops the web cleanly (exit 0)', { timeout: 40_000 }, async () => {
  const base = tempDir('web-sse-idle');
  // 0.05 min = 3 s idle limit
  const idleWeb = await startWeb({ dataDir: path.join(base, 'data'), runDir, env: { PRINTBOX_SESSION_IDLE_MIN: '0.05' } });
  try {
    const u = newUser();
    const cookie = await signIn(idleWeb, u);
    const s = await liveStream(idleWeb, cookie);
    await endsWithin(s, 3000 + PROMPT_MS, 'the idle limit');
    assert.equal(await status(idleWeb, cookie), 401);

    // shutdown (services/shared/shutdown.ts) with an open stream: closes it, exits 0
    const open = await liveStream(idleWeb, await signIn(idleWeb, u));
    const exited = new Promise<number | null>((r) => idleWeb.child.once('exit', (code) => r(code)));
    idleWeb.child.kill('SIGTERM');
    const code = await Promise.race([exited, sleep(5000).then(() => 'still running')]);
    assert.equal(code, 0, idleWeb.lines.join('\n'));
    await endsWithin(open, 1000, 'the web stopped');
    assert.ok(idleWeb.lines.some((l) => /\[web\] stopping.*SIGTERM/.test(l)), idleWeb.lines.join('\n'));
  } finally {
    await idleWeb.stop();
  }
});
