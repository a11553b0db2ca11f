/**
 * Sessions: stored in SQLite in the data dir, so they survive a web restart; idle timeout
 * (rolling) and absolute lifetime are enforced by the server. Short limits are configured through
 * the real env vars (PRINTBOX_SESSION_IDLE_MIN / PRINTBOX_SESSION_MAX_H accept fractions).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createUser, ensureGroup, type TestUser } from '../helpers/pam.ts';
import { request, signIn as signInAs, startAuth, startWeb, tempDir, type AuthHelper, type WebServer } from '../helpers/web.ts';

let auth: AuthHelper;
let dropGroup: () => void;
let user: TestUser;
let runDir: string;
const webs: WebServer[] = [];

async function web(dataDir: string, env: Record<string, string> = {}): Promise<WebServer> {
  const w = await startWeb({ dataDir, runDir, env });
  webs.push(w);
  return w;
}

const signIn = (w: WebServer) => signInAs(w, user);

const sessionStatus = async (w: WebServer, cookie: string) => (await request(w, { path: '/api/auth/session', cookie })).status;

before(async () => {
  dropGroup = ensureGroup('printbox');
  user = createUser({ groups: ['printbox'] });
  runDir = path.join(tempDir('web-session'), 'run');
  auth = await startAuth({ runDir });
});

after(async () => {
  for (const w of webs) await w.stop();
  await auth?.stop();
  user?.remove();
  dropGroup?.();
});

test('a session survives a restart of the web service (SQLite store in the data dir)', async () => {
  const dataDir = tempDir('web-restart');
  const first = await web(dataDir);
  const cookie = await signIn(first);
  assert.equal(await sessionStatus(first, cookie), 200);
  await first.stop();
  const second = await web(dataDir);
  assert.equal(second.ca, first.ca, 'the same certificate is reused, not regenerated');
  const r = await request(second, { path: '/api/auth/session', cookie });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.user, user.name);
  // control: a fresh data dir knows nothing of that session
  const other = await web(tempDir('web-restart-other'));
  assert.equal(await sessionStatus(other, cookie), 401);
});

test('idle timeout: activity keeps the session alive, silence ends it', async () => {
  const w = await web(tempDir('web-idle'), { PRINTBOX_SESSION_IDLE_MIN: '0.05' }); // 3 s
  const cookie = await signIn(w);
  for (let i = 0; i < 3; i++) { // 4.5 s in total, longer than the idle limit, but never 3 s apart
    await sleep(1500);
    assert.equal(await sessionStatus(w, cookie), 200, `still active after ${(i + 1) * 1.5} s`);
  }
  await sleep(3500);
  assert.equal(await sessionStatus(w, cookie), 401);
  // and it stays ended even after further requests
  assert.equal(await sessionStatus(w, cookie), 401);
});

test('absolute lifetime ends even an active session', async () => {
  const w = await web(tempDir('web-maxage'), { PRINTBOX_SESSION_MAX_H: '0.001' }); // 3.6 s
  const cookie = await signIn(w);
  await sleep(1500);
  assert.equal(await sessionStatus(w, cookie), 200);
  await sleep(1500);
  assert.equal(await sessionStatus(w, cookie), 200);
  await sleep(1500);
  assert.equal(await sessionStatus(w, cookie), 401);
});
