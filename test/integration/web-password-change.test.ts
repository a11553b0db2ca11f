/**
 * A PAM session ends when its account changes outside PrintBox — password changed with
 * chpasswd/passwd, account locked, removed from the allowed group — within PRINTBOX_ACCOUNT_RECHECK_S.
 * Real accounts, the real auth helper (account.stamp) and the real web over HTTPS from 127.0.0.2.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openDb } from '../../services/shared/db.ts';
import { createUser, ensureGroup, lockAccount, type TestUser } from '../helpers/pam.ts';
import { request, sessionCookie, startAuth, startWeb, tempDir, type AuthHelper, type WebServer } from '../helpers/web.ts';

const RECHECK_S = 1;
let auth: AuthHelper;
let web: WebServer;
let runDir: string;
let authData: string;
const users: TestUser[] = [];

const newUser = () => { const u = createUser({ groups: ['printbox'] }); users.push(u); return u; };

async function signIn(u: TestUser, password = u.password): Promise<string> {
  const r = await request(web, { method: 'POST', path: '/api/auth/login', body: { username: u.name, password } });
  assert.equal(r.status, 200, r.text);
  return sessionCookie(r)!;
}

const status = async (cookie: string) => (await request(web, { path: '/api/auth/session', cookie })).status;

/** Polls until the session answers 401; returns how long that took (fails after the interval plus slack). */
async function endsWithin(cookie: string, ms: number): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if ((await status(cookie)) === 401) return Date.now() - t0;
    await sleep(200);
  }
  assert.fail(`the session was still alive ${ms} ms after the account changed`);
}

async function sideTableRows(user: string): Promise<number> {
  const db = await openDb(path.join(web.dataDir, 'printbox.db'), []);
  try { return (await db.all('SELECT 1 FROM user_sessions WHERE username = ?', [user])).length; } finally { await db.close(); }
}

before(async () => {
  ensureGroup('printbox');
  const base = tempDir('web-pwchange');
  runDir = path.join(base, 'run');
  authData = path.join(base, 'auth-state');
  auth = await startAuth({ runDir, dataDir: authData });
  web = await startWeb({ dataDir: path.join(base, 'data'), runDir, env: { PRINTBOX_ACCOUNT_RECHECK_S: String(RECHECK_S) } });
});

after(async () => {
  await web?.stop();
  await auth?.stop();
  for (const u of users) u.remove();
});

test('the HMAC key is a root-only file in the auth helper\'s own state dir', () => {
  const st = fs.statSync(path.join(authData, 'auth.key'));
  assert.equal(st.mode & 0o777, 0o600);
  assert.equal(st.uid, 0);
});

test('an unchanged account keeps its session across re-checks', async () => {
  const u = newUser();
  const cookie = await signIn(u);
  for (let i = 0; i < 3; i++) {
    assert.equal(await status(cookie), 200);
    await sleep(RECHECK_S * 1000 + 300);
  }
  assert.equal(await status(cookie), 200);
});

test('a password changed outside PrintBox (chpasswd) ends the session; the new password signs in', async () => {
  const u = newUser();
  const cookie = await signIn(u);
  assert.equal(await status(cookie), 200);
  assert.equal(await sideTableRows(u.name), 1);
  execFileSync('chpasswd', [], { input: `${u.name}:${u.password}-new\n` });
  await endsWithin(cookie, RECHECK_S * 1000 + 3000);
  assert.equal(await status(cookie), 401, 'stays ended');
  assert.equal(await sideTableRows(u.name), 0, 'its row in the session list is gone too');
  const audit = await request(web, { path: '/api/audit?action=auth.session_ended', localAddress: '127.0.0.1' });
  assert.equal(audit.status, 200, audit.text);
  assert.match(audit.text, new RegExp(`"actor":"${u.name}"`));
  assert.match(audit.text, /account changed/);
  const fresh = await signIn(u, `${u.password}-new`);
  assert.equal(await status(fresh), 200);
});

test('locking the account (usermod -L) ends the session', async () => {
  const u = newUser();
  const cookie = await signIn(u);
  assert.equal(await status(cookie), 200);
  lockAccount(u.name);
  await endsWithin(cookie, RECHECK_S * 1000 + 3000);
});

test('removal from the allowed group ends the session', async () => {
  const u = newUser();
  const cookie = await signIn(u);
  assert.equal(await status(cookie), 200);
  execFileSync('gpasswd', ['-d', u.name, 'printbox'], { stdio: 'ignore' });
  await endsWithin(cookie, RECHECK_S * 1000 + 3000);
});

test('with the auth helper stopped sessions go on; restarted, it gives the same stamps (key kept on disk)', async () => {
  const u = newUser();
  const cookie = await signIn(u);
  await auth.stop();
  for (let i = 0; i < 2; i++) {
    await sleep(RECHECK_S * 1000 + 300);
    assert.equal(await status(cookie), 200, 'helper down: fail open for existing sessions');
  }
  assert.ok(web.lines.some((l) => l.includes('account check unavailable')), 'and the web logs it');
  auth = await startAuth({ runDir, dataDir: authData });
  await sleep(RECHECK_S * 1000 + 300);
  assert.equal(await status(cookie), 200, 'same key after the restart: the stamp still matches');
  await sleep(RECHECK_S * 1000 + 300);
  assert.equal(await status(cookie), 200);
  // control: the restarted helper does re-check
  execFileSync('chpasswd', [], { input: `${u.name}:${u.password}-2\n` });
  await endsWithin(cookie, RECHECK_S * 1000 + 3000);
});
