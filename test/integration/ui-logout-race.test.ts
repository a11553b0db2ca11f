/**
 * Found by the browser tests: a request still in flight when POST /api/auth/logout ends the
 * session writes the session back (sessions/cookie.ts currentAuth() sets auth.lastSeen on every request, so
 * express-session saves it after the handler, after logout destroyed it) — the cookie works again.
 * Fixed by services/web/sessions/store.ts (writes to a destroyed session id are refused).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request, sessionCookie } from '../helpers/web.ts';
import { startUiStack, type UiStack } from '../browser/stack.ts';

let stack: UiStack;
before(async () => { stack = await startUiStack(); });
after(async () => { await stack?.stop(); });

test('logout wins over requests in flight with the same session', async () => {
  const web = { httpsPort: stack.web.httpsPort, ca: stack.web.ca };
  const creds = { username: stack.user.name, password: stack.user.password };
  let revived = 0;
  for (let i = 0; i < 5; i++) {
    const cookie = sessionCookie(await request(web, { method: 'POST', path: '/api/auth/login', body: creds }));
    assert.ok(cookie);
    const inFlight = Array.from({ length: 6 }, (_, k) => new Promise((r) => setTimeout(r, k * 3))
      .then(() => request(web, { path: k % 2 ? '/api/printers' : '/api/security/totp', cookie })));
    const logout = request(web, { method: 'POST', path: '/api/auth/logout', cookie, body: {} });
    await Promise.all([...inFlight, logout]);
    if ((await request(web, { path: '/api/auth/session', cookie })).status !== 401) revived++;
  }
  assert.equal(revived, 0, `${revived} of 5 logged-out sessions came back`);
});
