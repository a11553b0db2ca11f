/**
 * Logout wins over requests in flight with the same session. express-session saves a session at the
 * end of every request that loaded it (sessions/cookie.ts currentAuth() sets auth.lastSeen on each),
 * so a request still in flight at logout used to write the session back and the cookie worked again.
 * Two interleavings, each forced here rather than left to load:
 * - the save is issued after the destroy: the in-flight request was held open across the logout;
 * - the save is issued just before the destroy: node-sqlite3 ran the two statements in parallel and
 *   the DELETE could land first, reviving the row — hidden by the in-memory tombstone until a restart.
 * Fixed in services/web/sessions/store.ts (tombstones + a serialized store connection).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { SessionData } from 'express-session';
import { openSessionStore } from '../../services/web/sessions/store.ts';
import { createUser, ensureGroup, type TestUser } from '../helpers/pam.ts';
import { endsWithin, liveStream, type Stream } from '../helpers/sse.ts';
import { request, signIn, startAuth, startVirtualPrinters, startWeb, tempDir, type AuthHelper, type Service, type WebServer } from '../helpers/web.ts';

let auth: AuthHelper;
let printer: Service;
let user: TestUser;
let runDir: string;
const webs: WebServer[] = [];
const streams: Stream[] = [];

before(async () => {
  ensureGroup('printbox');
  user = createUser({ groups: ['printbox'] });
  const base = tempDir('logout-race');
  runDir = path.join(base, 'run');
  auth = await startAuth({ runDir });
  printer = await startVirtualPrinters({ base, runDir });
});

after(async () => {
  for (const s of streams) s.close();
  for (const w of webs) await w.stop();
  await printer?.stop();
  await auth?.stop();
  user?.remove();
});

async function web(dataDir: string): Promise<WebServer> {
  const w = await startWeb({ dataDir, runDir });
  webs.push(w);
  return w;
}

async function logout(w: WebServer, cookie: string): Promise<void> {
  const r = await request(w, { method: 'POST', path: '/api/auth/logout', cookie, body: {} });
  // The web's own account of a failure (its log is not in the test output otherwise).
  assert.equal(r.status, 204, `logout answered ${r.status}: ${r.text}\n${w.lines.filter((l) => /error|warn/i.test(l)).slice(-10).join('\n')}`);
}

/** 401, or what came back instead (a revived session answers 200; anything else is another failure). */
const sessionStatus = async (w: WebServer, cookie: string) => (await request(w, { path: '/api/auth/session', cookie })).status;

const storeGet = (store: ReturnType<typeof openSessionStore>['store'], sid: string) =>
  new Promise<SessionData | null | undefined>((resolve, reject) => store.get(sid, (err, s) => (err ? reject(err) : resolve(s))));

test('a save issued just before a destroy cannot bring the session back, in the store or after a restart', async () => {
  const file = path.join(tempDir('session-store'), 'printbox.db');
  const first = openSessionStore(file, 3600_000);
  const sids = Array.from({ length: 300 }, (_, i) => `sid-${i}`);
  const data = { cookie: { maxAge: 3600_000, originalMaxAge: 3600_000 }, auth: { user: 'someone' } } as unknown as SessionData;
  // The end-of-request save of a request in flight, then logout's destroy, in the same tick.
  await Promise.all(sids.map((sid) => new Promise<void>((resolve, reject) => {
    first.store.set(sid, data);
    first.store.destroy(sid, (err) => (err ? reject(err) : resolve()));
  })));
  // a save issued after the destroy (a request held open across the logout) is refused
  await Promise.all(sids.slice(0, 20).map((sid) => new Promise<void>((resolve) => first.store.set(sid, data, () => resolve()))));
  for (const sid of sids.slice(0, 20)) assert.equal(await storeGet(first.store, sid), null);
  await first.close();
  const restarted = openSessionStore(file, 3600_000);
  const revived = (await Promise.all(sids.map((sid) => storeGet(restarted.store, sid)))).filter(Boolean).length;
  await restarted.close();
  assert.equal(revived, 0, `${revived} of ${sids.length} destroyed sessions were back after a restart`);
});

test('a request held open across the logout cannot bring the session back, also after a web restart', async () => {
  const dataDir = tempDir('logout-race-web');
  const w = await web(dataDir);
  const cookie = await signIn(w, user);
  // The event stream loaded the session when it opened and ends after the logout: express-session
  // then saves or touches the session — after the destroy.
  const held = await liveStream(w, { cookie }, streams);
  const inFlight = Array.from({ length: 6 }, (_, k) => request(w, { path: k % 2 ? '/api/printers' : '/api/security/totp', cookie }));
  await logout(w, cookie);
  await Promise.all(inFlight);
  await endsWithin(held, 3000, 'logout');
  assert.equal(await sessionStatus(w, cookie), 401);
  await w.stop();
  const again = await web(dataDir);
  assert.equal(await sessionStatus(again, cookie), 401, 'the logged-out cookie signs in after a restart');
});

test('logout wins over requests in flight with the same session', async () => {
  const w = await web(tempDir('logout-race-load'));
  const outcomes: number[] = [];
  for (let i = 0; i < 5; i++) {
    const cookie = await signIn(w, user);
    const inFlight = Array.from({ length: 6 }, (_, k) => new Promise((r) => setTimeout(r, k * 3))
      .then(() => request(w, { path: k % 2 ? '/api/printers' : '/api/security/totp', cookie })));
    await Promise.all([...inFlight, logout(w, cookie)]);
    outcomes.push(await sessionStatus(w, cookie));
  }
  assert.deepEqual(outcomes, [401, 401, 401, 401, 401], `after logout, GET /api/auth/session answered ${outcomes.join(', ')}`);
});
