/**
 * Account-security features end to end: real PAM accounts, the real PAM helper and web service over HTTPS,
 * requests from 127.0.0.2 (not local). One stack for the file; subtests run in order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as OTPAuth from 'otpauth';
import { startStack, cookieOf, type Stack } from './security-stack.ts';

type J = Record<string, unknown> & { error?: { code: string } };
const j = (r: { json: unknown }) => r.json as J;
const code = (secret: string, offsetMs = 0) => OTPAuth.TOTP.generate({ secret: OTPAuth.Secret.fromBase32(secret), timestamp: Date.now() + offsetMs });

test('roles, API keys, TOTP, sessions and audit over HTTPS', { timeout: 240_000 }, async (t) => {
  const s: Stack = await startStack({ userSpecs: [{ key: 'admin', role: 'admins' }, { key: 'op', role: 'operators' }, { key: 'viewer', role: 'plain' }] });
  t.after(() => s.stop());
  const { admin, op, viewer } = s.users as Record<'admin' | 'op' | 'viewer', (typeof s.users)[string]>;

  await t.test('PAM group map gives roles; API keys are Bearer-only, shown once, revocable', async () => {
    const ca = await s.login(admin);
    assert.equal(j(await s.req({ path: '/api/auth/session', cookie: ca })).role, 'admin');
    assert.equal(j(await s.req({ path: '/api/auth/session', cookie: await s.login(op) })).role, 'operator');
    assert.equal(j(await s.req({ path: '/api/auth/session', cookie: await s.login(viewer) })).role, 'viewer');
    const created = await s.req({ path: '/api/apikeys', cookie: ca, body: { name: 'slicer', permissions: ['files.read', 'files.write'], expires_in_days: 30 } });
    assert.equal(created.status, 201, created.text);
    const key = j(created).key as string;
    assert.equal(created.headers['cache-control'], 'no-store');
    const list = await s.req({ path: '/api/apikeys', cookie: ca });
    assert.ok(!list.text.includes(key) && list.text.includes(key.slice(4, 12)), 'listing shows the prefix, never the key');
    const who = j(await s.req({ path: '/api/auth/session', bearer: key }));
    assert.equal(who.method, 'apikey');
    assert.equal((await s.req({ path: `/api/auth/session?api_key=${key}` })).status, 400, 'a key in the query string is refused');
    assert.equal((await s.req({ path: `/api/auth/session?token=${key}`, bearer: key })).status, 400, 'even next to a valid header');
    assert.equal((await s.req({ path: '/api/auth/session', headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } })).status, 401);
    assert.equal((await s.req({ path: '/api/audit', bearer: key })).status, 403, 'a key only has its permissions');
    const viewerCookie = await s.login(viewer);
    assert.equal((await s.req({ path: '/api/apikeys', cookie: viewerCookie, body: { name: 'x', role: 'admin' } })).status, 403);
    const revoked = await s.req({ method: 'DELETE', path: `/api/apikeys/${j(created).id as number}`, cookie: ca });
    assert.ok(j(revoked).revoked_at, revoked.text);
    assert.equal((await s.req({ path: '/api/auth/session', bearer: key })).status, 401, 'revoked key refused');
  });

  let adminSecret = '';
  let recovery: string[] = [];
  await t.test('TOTP: enroll with QR, login asks for the code, replay and reused recovery codes refused', async () => {
    const ca = await s.login(admin);
    const e = await s.req({ path: '/api/security/totp/enroll', cookie: ca, body: {} });
    assert.equal(e.status, 200, e.text);
    adminSecret = j(e).secret as string;
    assert.match(j(e).qr_svg as string, /^data:image\/svg\+xml;base64,/);
    const first = code(adminSecret);
    const conf = await s.req({ path: '/api/security/totp/confirm', cookie: ca, body: { code: first } });
    assert.equal(conf.status, 200, conf.text);
    recovery = j(conf).recovery_codes as string[];
    assert.equal(recovery.length, 10);
    const noCode = await s.req({ path: '/api/auth/login', body: { username: admin.name, password: admin.password } });
    assert.equal(noCode.status, 401);
    assert.equal(j(noCode).error!.code, 'totp_required');
    assert.equal(cookieOf(noCode), undefined, 'no session before the second factor');
    const wrongPw = await s.req({ path: '/api/auth/login', body: { username: admin.name, password: 'nope', totp: code(adminSecret) } });
    assert.equal(j(wrongPw).error!.code, 'unauthorized', 'a wrong password never reveals that TOTP is on');
    const replay = await s.req({ path: '/api/auth/login', body: { username: admin.name, password: admin.password, totp: first } });
    assert.equal(j(replay).error!.code, 'totp_invalid', 'the confirming code cannot be replayed');
    const next = code(adminSecret, 30_000); // next time step: inside the ±1 window and newer than the last used
    const ok = await s.login(admin, { totp: next });
    assert.ok(ok);
    const again = await s.req({ path: '/api/auth/login', body: { username: admin.name, password: admin.password, totp: next } });
    assert.equal(j(again).error!.code, 'totp_invalid', 'a used code is refused');
    await s.login(admin, { totp: recovery[0] });
    const reused = await s.req({ path: '/api/auth/login', body: { username: admin.name, password: admin.password, totp: recovery[0] } });
    assert.equal(j(reused).error!.code, 'totp_invalid', 'recovery codes are single-use');
    assert.equal(j(await s.req({ path: '/api/security/totp', cookie: ok })).recovery_codes_left, 9);
  });

  await t.test('sessions: list yours, end one, end others; admins end other users\' sessions', async () => {
    const a1 = await s.login(admin, { totp: recovery[1] });
    const a2 = await s.login(admin, { totp: recovery[2] });
    const mine = j(await s.req({ path: '/api/sessions', cookie: a1 })) as unknown as Array<{ id: string; current: boolean; ip: string; user_agent: string; last_activity: string }>;
    assert.ok(mine.length >= 2);
    assert.equal(mine.filter((x) => x.current).length, 1);
    assert.ok(mine.every((x) => x.ip === '127.0.0.2' && x.last_activity));
    const other = (j(await s.req({ path: '/api/sessions', cookie: a2 })) as unknown as typeof mine).find((x) => x.current)!;
    assert.equal((await s.req({ method: 'DELETE', path: `/api/sessions/${other.id}`, cookie: a1 })).status, 204);
    assert.equal((await s.req({ path: '/api/auth/session', cookie: a2 })).status, 401, 'the ended session is gone');
    const o1 = await s.login(op);
    const opSession = (j(await s.req({ path: '/api/sessions', cookie: o1 })) as unknown as typeof mine)[0]!;
    const mineNow = (j(await s.req({ path: '/api/sessions', cookie: a1 })) as unknown as typeof mine).find((x) => x.current)!;
    assert.equal((await s.req({ method: 'DELETE', path: `/api/sessions/${mineNow.id}`, cookie: o1 })).status, 404, 'others\' sessions are invisible');
    assert.equal((await s.req({ path: '/api/sessions/all', cookie: o1 })).status, 403);
    const all = j(await s.req({ path: '/api/sessions/all', cookie: a1 })) as unknown as typeof mine;
    assert.ok(all.some((x) => x.id === opSession.id));
    assert.equal((await s.req({ method: 'DELETE', path: `/api/sessions/${opSession.id}`, cookie: a1 })).status, 204);
    assert.equal((await s.req({ path: '/api/auth/session', cookie: o1 })).status, 401);
    const a3 = await s.login(admin, { totp: recovery[3] });
    const ended = await s.req({ method: 'DELETE', path: '/api/sessions', cookie: a1 });
    assert.ok((j(ended).ended as number) >= 1, ended.text);
    assert.equal((await s.req({ path: '/api/auth/session', cookie: a3 })).status, 401);
    assert.equal((await s.req({ path: '/api/auth/session', cookie: a1 })).status, 200, 'the current session stays');
  });

  await t.test('custom role + role change ends the user\'s sessions', async () => {
    const ca = await s.login(admin, { totp: recovery[4] });
    const role = await s.req({ path: '/api/security/roles', cookie: ca, body: { name: 'watcher', permissions: ['printers.read', 'audit.read'] } });
    assert.equal(role.status, 201, role.text);
    const o1 = await s.login(op);
    const set = await s.req({ method: 'PUT', path: `/api/users/${op.name}/role`, cookie: ca, body: { role: 'watcher' } });
    assert.equal(set.status, 200, set.text);
    assert.equal((await s.req({ path: '/api/auth/session', cookie: o1 })).status, 401, 'role change ended the session');
    const o2 = await s.login(op);
    assert.equal(j(await s.req({ path: '/api/auth/session', cookie: o2 })).role, 'watcher');
    assert.equal((await s.req({ path: '/api/audit', cookie: o2 })).status, 200, 'custom role grants audit.read');
    assert.equal((await s.req({ path: '/api/apikeys', cookie: o2 })).status, 403);
    const upd = await s.req({ method: 'PUT', path: '/api/security/roles/watcher', cookie: ca, body: { permissions: ['printers.read'] } });
    assert.equal(upd.status, 200, upd.text);
    assert.equal((await s.req({ path: '/api/audit', cookie: o2 })).status, 403, 'a narrowed custom role applies on the next request');
    assert.equal((await s.req({ method: 'DELETE', path: '/api/security/roles/watcher', cookie: ca })).status, 409, 'in use');
    await s.req({ method: 'PUT', path: `/api/users/${op.name}/role`, cookie: ca, body: { role: null } });
    assert.equal((await s.req({ method: 'DELETE', path: '/api/security/roles/watcher', cookie: ca })).status, 204);
    const users = j(await s.req({ path: '/api/users', cookie: ca })) as unknown as Array<{ username: string; totp: boolean }>;
    assert.ok(users.find((u) => u.username === admin.name)?.totp);
  });

  await t.test('admin enforces 2FA: an account without TOTP keeps only enrollment until it enrolls', async () => {
    const ca = await s.login(admin, { totp: recovery[5] });
    assert.equal((await s.req({ method: 'PUT', path: '/api/security/settings', cookie: ca, body: { enforce_2fa: true } })).status, 200);
    const v = await s.login(viewer);
    assert.equal((await s.req({ path: '/api/audit', cookie: ca })).status, 200, 'the enrolled admin keeps working');
    assert.equal((await s.req({ path: '/api/cloud', cookie: v })).status, 403, 'viewer without TOTP has no permissions (cloud.read)');
    assert.equal(j(await s.req({ path: '/api/security/totp', cookie: v })).enforced, true);
    const e = await s.req({ path: '/api/security/totp/enroll', cookie: v, body: {} });
    const conf = await s.req({ path: '/api/security/totp/confirm', cookie: v, body: { code: code(j(e).secret as string) } });
    assert.equal(conf.status, 200, conf.text);
    assert.notEqual((await s.req({ path: '/api/cloud', cookie: v })).status, 403, 'enrolled: permissions are back');
    const whoami = j(await s.req({ path: '/api/security/roles', local: true }));
    assert.ok(Array.isArray(whoami), 'local console is unaffected by enforcement');
    assert.equal((await s.req({ method: 'PUT', path: '/api/security/settings', cookie: ca, body: { enforce_2fa: false } })).status, 200);
  });

  await t.test('audit log: logins, failures, changes; admin-only export as CSV and JSON without secrets', async () => {
    const bad = await s.req({ path: '/api/auth/login', body: { username: op.name, password: 'wrong-password-123' } });
    assert.equal(bad.status, 401);
    const ca = await s.login(admin, { totp: recovery[6] });
    // link/unlink (and every other state change) are audited by the route mount, credentials removed
    await s.req({ path: '/api/cloud/link', cookie: ca, body: { email: 'owner@example.com', password: 'cloud-secret-pw' } });
    await s.req({ method: 'DELETE', path: '/api/cloud/link', cookie: ca });
    const csv = await s.req({ path: '/api/audit/export?format=csv', cookie: ca });
    assert.equal(csv.status, 200);
    assert.match(String(csv.headers['content-type']), /text\/csv/);
    assert.match(String(csv.headers['content-disposition']), /attachment; filename="printbox-audit-.*\.csv"/);
    const json = await s.req({ path: '/api/audit/export?format=json', cookie: ca });
    const rows = json.json as Array<{ action: string; outcome: string; actor: string; details: { body?: Record<string, unknown> } }>;
    assert.ok(rows.some((r) => r.action === 'auth.login' && r.outcome === 'failure' && r.actor === op.name));
    assert.ok(rows.some((r) => r.action === 'auth.login' && r.outcome === 'success'));
    assert.ok(rows.some((r) => r.action === 'PUT /users/:username/role'));
    assert.ok(rows.some((r) => r.action === 'PUT /security/settings'));
    const link = rows.find((r) => r.action === 'POST /cloud/link');
    assert.equal(link?.details.body?.email, 'owner@example.com');
    assert.equal(link?.details.body?.password, '[redacted]');
    assert.ok(rows.some((r) => r.action === 'DELETE /cloud/link'));
    for (const secret of [admin.password, op.password, 'wrong-password-123', 'cloud-secret-pw', adminSecret, ...recovery]) {
      assert.ok(!csv.text.includes(secret) && !json.text.includes(secret), 'no secret in the audit log');
    }
    assert.equal((await s.req({ path: '/api/audit', cookie: await s.login(op) })).status, 403);
    assert.equal((await s.req({ path: '/api/audit/export?format=xml', cookie: ca })).status, 400);
  });
  assert.ok(s.alive());
});
