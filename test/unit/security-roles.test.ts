import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRoleService, parseRoleMap } from '../../services/web/security/roles.ts';
import { tempDb } from './security-fixtures.ts';

test('parseRoleMap reads group:role pairs and rejects junk', () => {
  assert.deepEqual(parseRoleMap('printbox-admins:admin, printbox:operator'), [
    { group: 'printbox-admins', role: 'admin' }, { group: 'printbox', role: 'operator' }]);
  assert.deepEqual(parseRoleMap(''), []);
  assert.throws(() => parseRoleMap('admins'), /group:role/);
  assert.throws(() => parseRoleMap('a:b:c'), /group:role/);
});

test('role resolution: assignment beats group map, first group wins, default viewer, cloud owner admin', async (t) => {
  const { db, cleanup } = await tempDb();
  t.after(cleanup);
  const ended: string[] = [];
  const roles = createRoleService({ db, roleMap: parseRoleMap('printbox-admins:admin,printbox:operator'), onUserRoleChanged: async (u) => { ended.push(u); } });
  assert.equal(await roles.roleFor({ username: 'ann', method: 'pam', groups: ['printbox', 'printbox-admins'] }), 'admin');
  assert.equal(await roles.roleFor({ username: 'bob', method: 'pam', groups: ['printbox'] }), 'operator');
  assert.equal(await roles.roleFor({ username: 'cy', method: 'pam', groups: ['users'] }), 'viewer');
  assert.equal(await roles.roleFor({ username: 'owner@example.com', method: 'cloud' }), 'admin');
  await roles.setUserRole('ann', 'viewer');
  assert.equal(await roles.roleFor({ username: 'ann', method: 'pam', groups: ['printbox-admins'] }), 'viewer');
  assert.deepEqual(ended, ['ann'], 'a role change ends that user\'s sessions');
  await roles.setUserRole('ann', null);
  assert.equal(await roles.roleFor({ username: 'ann', method: 'pam', groups: ['printbox-admins'] }), 'admin');
  await assert.rejects(roles.setUserRole('ann', 'nosuch'), { code: 'unknown_role' });
  await assert.rejects(roles.setUserRole('ann', '__proto__'), { code: 'unknown_role' });
});

test('custom roles: made from the permission list, validated, refused while in use', async (t) => {
  const { db, cleanup } = await tempDb();
  t.after(cleanup);
  const roles = createRoleService({ db, roleMap: [] });
  const r = await roles.createCustom('monitor', ['printers.read', 'jobs.read', 'printers.read']);
  assert.deepEqual(r.permissions, ['printers.read', 'jobs.read']);
  assert.deepEqual([...(await roles.permissionsOf('monitor'))].sort(), ['jobs.read', 'printers.read']);
  assert.equal((await roles.list()).find((x) => x.name === 'monitor')?.builtin, false);
  await assert.rejects(roles.createCustom('monitor', ['jobs.read']), { code: 'role_exists' });
  await assert.rejects(roles.createCustom('admin', ['jobs.read']), { code: 'role_exists' });
  await assert.rejects(roles.createCustom('x', ['root.everything']), { code: 'invalid_permissions' });
  await assert.rejects(roles.createCustom('x', 'printers.read'), { code: 'invalid_permissions' });
  await assert.rejects(roles.createCustom('Bad Name', ['jobs.read']), { code: 'invalid_role_name' });
  await assert.rejects(roles.createCustom('../etc', ['jobs.read']), { code: 'invalid_role_name' });
  const up = await roles.updateCustom('monitor', ['printers.read', 'printers.control']);
  assert.deepEqual([...(await roles.permissionsOf('monitor'))].sort(), ['printers.control', 'printers.read']);
  assert.equal(up.builtin, false);
  await assert.rejects(roles.updateCustom('admin', ['jobs.read']), { code: 'builtin_role' });
  await assert.rejects(roles.updateCustom('nosuch', ['jobs.read']), { code: 'not_found' });
  await assert.rejects(roles.updateCustom('monitor', ['nope']), { code: 'invalid_permissions' });
  await roles.setUserRole('dan', 'monitor');
  await assert.rejects(roles.deleteCustom('monitor'), { code: 'role_in_use' });
  await roles.setUserRole('dan', null);
  await roles.deleteCustom('monitor');
  assert.equal((await roles.permissionsOf('monitor')).size, 0);
  await assert.rejects(roles.deleteCustom('admin'), { code: 'builtin_role' });
  assert.equal((await roles.permissionsOf('constructor')).size, 0, 'prototype names are not roles');
});
