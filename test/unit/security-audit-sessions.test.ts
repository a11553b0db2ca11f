import { test } from 'node:test';
import assert from 'node:assert/strict';
import session from 'express-session';
import { createAuditLog, csvCell, scrub } from '../../services/web/security/audit.ts';
import { createSessionService } from '../../services/web/sessions/list.ts';
import { clock, tempDb } from './security-fixtures.ts';

test('audit: secrets are scrubbed, rows listed newest first with filters, CSV is injection-safe', async (t) => {
  const { db, cleanup } = await tempDb();
  t.after(cleanup);
  const audit = createAuditLog({ db });
  await audit.record({ actor: 'ann', method: 'pam', ip: '10.0.0.2', action: 'auth.login', outcome: 'success', details: { password: 'hunter2', nested: { device_token: 'abc', ok: 1 }, totp: '123456' } });
  await audit.record({ actor: '=cmd|calc', method: 'anonymous', ip: '10.0.0.3', action: 'auth.login', outcome: 'failure', details: { user: 'x'.repeat(1000) } });
  await audit.record({ actor: 'ann', method: 'pam', ip: '10.0.0.2', action: 'printer.command', target: 'virtual-1', outcome: 'success', details: { gcode: 'G28' } });
  const all = await audit.list();
  assert.deepEqual(all.map((r) => r.action), ['printer.command', 'auth.login', 'auth.login']);
  const raw = JSON.stringify(await db.all('SELECT * FROM audit_log'));
  for (const secret of ['hunter2', 'abc"', '123456']) assert.ok(!raw.includes(secret), secret);
  assert.ok((all[1]!.details.user as string).length <= 201);
  assert.equal((await audit.list({ action: 'auth.login', actor: 'ann' })).length, 1);
  assert.equal((await audit.list({ limit: 1 })).length, 1);
  assert.equal((await audit.list({ beforeId: all[0]!.id })).length, 2);
  const csv = audit.toCsv(all);
  assert.ok(csv.startsWith('id,ts,actor,method,ip,action,target,outcome,details\r\n'));
  assert.ok(csv.includes(`"'=cmd|calc"`) || csv.includes(`'=cmd|calc`));
  assert.ok(!/(^|,)=cmd/m.test(csv), 'no cell starts with =');
  assert.equal(csvCell('a"b'), '"a""b"');
  assert.equal(csvCell('+1'), `"'+1"`);
  assert.deepEqual(scrub({ Authorization: 'Bearer x', cookie: 'y', list: [{ secret: 1 }] }), { Authorization: '[redacted]', cookie: '[redacted]', list: [{ secret: '[redacted]' }] });
  assert.deepEqual(scrub({ gcode: 'M104 S200', email: 'a@b.c', link_token: 't', wifi_password: 'w', recovery_codes: ['x'], api_key: 'k', 'new-password': 'n' }),
    { gcode: 'M104 S200', email: 'a@b.c', link_token: '[redacted]', wifi_password: '[redacted]', recovery_codes: '[redacted]', api_key: '[redacted]', 'new-password': '[redacted]' },
    'printer commands stay readable; credentials do not');
});

test('sessions: side table over a real connect-sqlite3 store; end one, end all but current', async (t) => {
  const { db, dir, cleanup } = await tempDb();
  t.after(cleanup);
  // connect-sqlite3 ships no types; the web core owns its declaration, so type the bit used here locally.
  const mod = (await import(String('connect-sqlite3'))) as { default: (s: typeof session) => new (o: { db: string; dir: string }) => session.Store };
  const SQLiteStore = mod.default(session);
  const store = new SQLiteStore({ db: 'sessions.db', dir });
  const put = (sid: string) => new Promise<void>((r) => store.set(sid, { cookie: { originalMaxAge: 3600_000, expires: new Date(Date.now() + 3600_000) } } as session.SessionData, () => r()));
  const exists = (sid: string) => new Promise<boolean>((r) => store.get(sid, (_e, s) => r(!!s)));
  const c = clock(Date.now());
  const sessions = createSessionService({ db, store, now: c.now });
  for (const sid of ['s1', 's2', 's3']) await put(sid);
  await sessions.register('s1', { username: 'ann', method: 'pam', ip: '10.0.0.2', userAgent: 'Firefox' });
  await sessions.register('s2', { username: 'ann', method: 'pam', ip: '10.0.0.5', userAgent: 'curl' });
  await sessions.register('s3', { username: 'bob', method: 'pam', ip: '10.0.0.9', userAgent: 'Chrome' });
  const mine = await sessions.list('ann');
  assert.equal(mine.length, 2);
  assert.ok(mine.every((s) => !('sid' in s) && s.id.length >= 16), 'the session id itself is never listed');
  assert.equal((await sessions.list()).length, 3);
  c.advance(60_000);
  await sessions.touch('s1', '10.0.0.7');
  const s1 = (await sessions.list('ann')).find((s) => s.user_agent === 'Firefox')!;
  assert.equal(s1.ip, '10.0.0.7');
  assert.equal(s1.last_activity, c.now().toISOString());
  const s2id = (await sessions.list('ann')).find((s) => s.user_agent === 'curl')!.id;
  await sessions.end(s2id);
  assert.equal(await exists('s2'), false, 'ending destroys the store session');
  await assert.rejects(sessions.end(s2id), { code: 'not_found' });
  await put('s4');
  await sessions.register('s4', { username: 'ann', method: 'pam', ip: '1.1.1.1', userAgent: 'x' });
  assert.equal(await sessions.endAllFor('ann', 's1'), 1);
  assert.equal(await exists('s1'), true);
  assert.equal(await exists('s4'), false);
  await new Promise<void>((r) => store.destroy('s3', () => r()));
  assert.deepEqual((await sessions.list()).map((s) => s.username), ['ann'], 'store-expired sessions are pruned from listings');
  assert.equal(await sessions.idOf('s1'), s1.id);
  // rows older than the absolute lifetime are pruned when the next session registers
  const pruning = createSessionService({ db, store, now: () => new Date(c.now().getTime() + 8 * 86_400_000) });
  await put('s9');
  await pruning.register('s9', { username: 'zed', method: 'pam', ip: '1.1.1.1', userAgent: 'x' });
  assert.deepEqual((await db.all<{ sid: string }>('SELECT sid FROM user_sessions')).map((r) => r.sid), ['s9']);
  await sessions.register('s1', { username: 'ann', method: 'pam', ip: '10.0.0.7', userAgent: 'Firefox' });
  await sessions.forget('s1');
  assert.deepEqual((await sessions.list()).map((x) => x.username), ['zed']);
});
