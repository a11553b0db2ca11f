/**
 * Walks THE route table (services/web/routes/index.ts) against the real web service over HTTPS from
 * a non-local address and proves every non-public route refuses a caller without its permission:
 * anonymous → 401; an API key holding every permission except the route's → 403 forbidden; a key
 * holding only that permission gets past the check (whatever the handler then says).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PERMISSIONS, type Permission } from '../../services/web/permissions.ts';
import { routes } from '../../services/web/routes/index.ts';
import { startStack } from './security-stack.ts';

/** "/printers/:id/job" → "/api/printers/x/job"; also Express 5 "*splat" and "{/:opt}" forms. */
const concrete = (p: string) => '/api' + p.replace(/[{}]/g, '').replace(/[:*]\w+/g, 'x');

test('every route in the table refuses a caller without its permission', { timeout: 180_000 }, async (t) => {
  const stack = await startStack();
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
  assert.ok(stack.alive(), 'service still running');
  t.diagnostic(`walked ${checked} non-public routes of ${routes.length}`);
});
