/**
 * Walks THE route table (services/web/routes/index.ts) against the real web service over HTTPS from
 * a non-local address and proves every non-public route refuses a caller without its permission:
 * anonymous → 401; an API key holding every permission except the route's → 403 forbidden; a key
 * holding only that permission gets past the check (whatever the handler then says). Then the same
 * walk with signed-in operator and viewer accounts (roles from the PAM group map).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BUILTIN_ROLES, PERMISSIONS, type Permission } from '../../services/shared/permissions.ts';
import { routes } from '../../services/web/routes/index.ts';
import { startStack } from './security-stack.ts';

/** "/printers/:id/job" → "/api/printers/x/job"; also Express 5 "*splat" and "{/:opt}" forms. */
const concrete = (p: string) => '/api' + p.replace(/[{}]/g, '').replace(/[:*]\w+/g, 'x');

test('every route in the table refuses a caller without its permission', { timeout: 180_000 }, async (t) => {
  const stack = await startStack({ userSpecs: [{ key: 'operator', role: 'operators' }, { key: 'viewer', role: 'plain' }] });
  t.after(() => stack.stop());
  const only = new Map<Permission, string>();
  const allBut = new Map<Permission, string>();
  for (const p of PERMISSIONS) {
    only.set(p, (await stack.key({ name: `only ${p}`, permissions: [p] })).key);
    allBut.set(p, (await stack.key({ name: `not ${p}`, permissions: PERMISSIONS.filter((q) => q !== p) })).key);
  }
  const send = (route: (typeof routes)[number], bearer?: string) => stack.req({
    method: route.method.toUpperCase(), path: concrete(route.path), bearer,
    ...(route.method === 'get' ? {} : { body: {} }),
  });
  let checked = 0;
  for (const route of routes) {
    const what = `${route.method.toUpperCase()} ${route.path} (${route.access})`;
    if (route.access === 'public') continue;
    const anon = await send(route);
    assert.equal(anon.status, 401, `${what}: anonymous from 127.0.0.2 → ${anon.status} ${anon.text}`);
    if (route.access === 'authenticated') { checked++; continue; }
    const denied = await send(route, allBut.get(route.access));
    assert.equal(denied.status, 403, `${what}: key without ${route.access} → ${denied.status} ${denied.text}`);
    assert.equal((denied.json as { error: { code: string } }).error.code, 'forbidden', what);
    const allowed = await send(route, only.get(route.access));
    assert.ok(allowed.status !== 401 && !(allowed.status === 403 && (allowed.json as { error?: { code?: string } })?.error?.code === 'forbidden'),
      `${what}: key with only ${route.access} → ${allowed.status} ${allowed.text}`);
    checked++;
  }
  assert.ok(checked >= 15, `walked ${checked} non-public routes`);

  // The same walk with real signed-in PAM accounts whose built-in roles come from the group map.
  for (const role of ['operator', 'viewer'] as const) {
    const cookie = await stack.login(stack.users[role]!);
    const perms = new Set<string>(BUILTIN_ROLES[role]);
    for (const route of routes) {
      if (route.access === 'public' || route.access === 'authenticated') continue;
      // a GET by this role is harmless; mutations it may do are skipped so the walk cannot end its own session
      if (perms.has(route.access) && route.method !== 'get') continue;
      const r = await stack.req({ method: route.method.toUpperCase(), path: concrete(route.path), cookie, ...(route.method === 'get' ? {} : { body: {} }) });
      const forbidden = r.status === 403 && (r.json as { error?: { code?: string } })?.error?.code === 'forbidden';
      assert.equal(forbidden, !perms.has(route.access), `${role} ${route.method.toUpperCase()} ${route.path} (${route.access}) → ${r.status} ${r.text.slice(0, 120)}`);
      assert.notEqual(r.status, 401, `${role} session still valid at ${route.path}`);
    }
  }
  assert.ok(stack.alive(), 'service still running');
  t.diagnostic(`walked ${checked} non-public routes of ${routes.length}`);
});
