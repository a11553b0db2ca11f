import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createApiKeyService } from '../../services/web/security/apikeys.ts';
import { createRoleService } from '../../services/web/security/roles.ts';
import { PERMISSIONS } from '../../services/shared/permissions.ts';
import type { Principal } from '../../services/web/permissions.ts';
import { clock, tempDb } from './security-fixtures.ts';

const admin: Principal = { user: 'ann', method: 'pam', role: 'admin', permissions: new Set(PERMISSIONS) };

async function setup(t: { after: (fn: () => Promise<void>) => void }) {
  const { db, cleanup } = await tempDb();
  t.after(cleanup);
  const c = clock();
  const roles = createRoleService({ db, roleMap: [] });
  return { db, c, roles, keys: createApiKeyService({ db, roles, now: c.now }) };
}

test('a key is shown once, stored only as a hash, and authenticates as its role', async (t) => {
  const { db, keys } = await setup(t);
  const { key, info } = await keys.create(admin, { name: 'octoapp', role: 'operator' });
  assert.match(key, /^pbk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/);
  assert.equal(info.prefix, key.slice(4, 12));
  assert.ok(!('key' in info) && !('hash' in info));
  const dump = JSON.stringify(await db.all('SELECT * FROM api_keys'));
  assert.ok(!dump.includes(key.slice(13)), 'the secret part is not stored');
  const p = await keys.authenticate(key);
  assert.equal(p.method, 'apikey');
  assert.equal(p.role, 'operator');
  assert.ok(p.permissions.has('jobs.control') && !p.permissions.has('users.manage'));
  assert.ok((await keys.list())[0]!.last_used_at, 'last-used time recorded');
});

test('wrong, truncated, revoked and expired keys are refused', async (t) => {
  const { c, keys } = await setup(t);
  const { key, info } = await keys.create(admin, { name: 'k', permissions: ['printers.read'], expires_in_days: 1 });
  const flipped = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
  for (const bad of [flipped, key.slice(0, -1), key + 'x', '', 'pbk_', key.toUpperCase(), `pbk_00000000_${key.slice(13)}`]) {
    await assert.rejects(keys.authenticate(bad), { code: 'invalid_api_key', status: 401 }, bad);
  }
  assert.deepEqual([...(await keys.authenticate(key)).permissions], ['printers.read']);
  c.advance(86_400_000 + 1);
  await assert.rejects(keys.authenticate(key), { code: 'invalid_api_key' }, 'expired');
  const k2 = await keys.create(admin, { name: 'k2', role: 'viewer' });
  await keys.authenticate(k2.key);
  const revoked = await keys.revoke(k2.info.id);
  assert.ok(revoked.revoked_at);
  await assert.rejects(keys.authenticate(k2.key), { code: 'invalid_api_key' }, 'revoked');
  await assert.rejects(keys.revoke(9999), { code: 'not_found' });
  assert.equal(info.name, 'k');
});

test('the OctoPrint form: 43 characters of [A-Za-z0-9_-] led by the prefix, hashed at rest, beside the PrintBox form', async (t) => {
  const { db, keys } = await setup(t);
  const octo = await keys.create(admin, { name: 'fdm monster', role: 'api', format: 'octoprint' });
  assert.match(octo.key, /^[0-9a-f]{8}[A-Za-z0-9_-]{35}$/);
  assert.equal(octo.key.length, 43, 'OctoPrint key length (FDM Monster accepts 32-43)');
  assert.equal(octo.info.prefix, octo.key.slice(0, 8));
  const plain = await keys.create(admin, { name: 'script', role: 'viewer', format: 'printbox' });
  assert.match(plain.key, /^pbk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/);
  const dump = JSON.stringify(await db.all('SELECT * FROM api_keys'));
  assert.ok(!dump.includes(octo.key.slice(8)), 'the secret part is not stored');
  assert.equal((await keys.authenticate(octo.key)).role, 'api');
  assert.equal((await keys.authenticate(plain.key)).role, 'viewer');
  // neither form passes for the other, and a near miss is refused
  const flipped = octo.key.slice(0, -1) + (octo.key.endsWith('A') ? 'B' : 'A');
  for (const bad of [flipped, octo.key.slice(0, -1), `${octo.key}x`, `pbk_${octo.key.slice(0, 8)}_${octo.key.slice(8)}AAAAAAAA`, plain.key.slice(4, 12) + plain.key.slice(13, 48), octo.key.toUpperCase()]) {
    await assert.rejects(keys.authenticate(bad), { code: 'invalid_api_key', status: 401 }, bad);
  }
  await keys.revoke(octo.info.id);
  await assert.rejects(keys.authenticate(octo.key), { code: 'invalid_api_key' }, 'revoked');
  await assert.rejects(keys.create(admin, { name: 'x', role: 'api', format: 'octo' }), { code: 'invalid_format', status: 400 });
});

test('input validation: role xor permissions, no escalation, sane names and expiry', async (t) => {
  const { keys } = await setup(t);
  const viewer: Principal = { user: 'vic', method: 'pam', role: 'viewer', permissions: new Set(['printers.read', 'files.read']) };
  await assert.rejects(keys.create(viewer, { name: 'x', permissions: ['printers.control'] }), { code: 'exceeds_own_permissions' });
  await assert.rejects(keys.create(viewer, { name: 'x', role: 'admin' }), { code: 'exceeds_own_permissions' });
  await assert.rejects(keys.create(admin, { name: 'x' }), { code: 'role_or_permissions' });
  await assert.rejects(keys.create(admin, { name: 'x', role: 'admin', permissions: ['printers.read'] }), { code: 'role_or_permissions' });
  await assert.rejects(keys.create(admin, { name: 'x', permissions: [] }), { code: 'invalid_permissions' });
  await assert.rejects(keys.create(admin, { name: 'x', role: 'toString' }), { code: 'unknown_role' });
  for (const name of ['', ' ', 'a'.repeat(65), 'x\u0000y', '<script>', 42, null]) {
    await assert.rejects(keys.create(admin, { name, role: 'viewer' }), { code: 'invalid_name' }, String(name));
  }
  for (const exp of [{ expires_at: '2000-01-01T00:00:00Z' }, { expires_at: 'soon' }, { expires_in_days: 0 }, { expires_in_days: 1.5 }, { expires_in_days: '3' }]) {
    await assert.rejects(keys.create(admin, { name: 'x', role: 'viewer', ...exp }), { code: 'invalid_expiry' }, JSON.stringify(exp));
  }
  const ok = await keys.create(viewer, { name: 'Drucker Überwachung', permissions: ['files.read'], expires_at: '2030-01-01T00:00:00Z' });
  assert.equal(ok.info.expires_at, '2030-01-01T00:00:00.000Z');
});
