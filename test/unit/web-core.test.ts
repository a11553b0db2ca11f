/**
 * Pure pieces of the web core and PAM helper: throttle backoff arithmetic, Host parsing and the
 * allow-list, same-origin, and the pam_unix account rules applied to shadow entries.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Request } from 'express';
import { accountVerdict, parseShadow } from '../../services/auth/accounts.ts';
import { sameOrigin } from '../../services/web/app.ts';
import { createHostCheck, parseHost } from '../../services/web/hosts.ts';
import { LoginThrottle } from '../../services/web/throttle.ts';
import { AppError } from '../../services/shared/errors.ts';

test('throttle: free attempts, then 429 with a doubling Retry-After; success clears', () => {
  let now = 1_000_000;
  const t = new LoginThrottle({ perIp: { free: 100, baseMs: 1000, maxMs: 60_000 }, perAccount: { free: 3, baseMs: 1000, maxMs: 60_000 }, now: () => now });
  for (let i = 0; i < 3; i++) t.begin('1.2.3.4', 'alice').failed();
  const retry = () => { try { t.begin('1.2.3.4', 'alice'); return 0; } catch (e) { assert.ok(e instanceof AppError && e.status === 429); return e.details!.retry_after_s as number; } };
  assert.equal(retry(), 1);
  now += 1001;
  t.begin('9.9.9.9', 'alice').failed(); // 4th attempt: 2 s
  assert.equal(retry(), 2);
  now += 2001;
  t.begin('9.9.9.9', 'alice').failed(); // 5th: 4 s
  assert.equal(retry(), 4);
  now += 4001;
  t.begin('1.2.3.4', 'alice').succeeded();
  assert.equal(retry(), 0, 'success clears the account');
  // another account from the same IP is unaffected by alice's counter
  t.begin('1.2.3.4', 'bob').failed();
});

test('throttle: abandoned attempts (helper down) do not count', () => {
  const t = new LoginThrottle({ perAccount: { free: 1, baseMs: 1000, maxMs: 1000 } });
  for (let i = 0; i < 5; i++) t.begin('ip', 'carol').abandoned();
  t.begin('ip', 'carol').failed();
  assert.throws(() => t.begin('ip', 'carol'), (e: AppError) => e.status === 429);
});

test('throttle: memory is bounded', () => {
  const t = new LoginThrottle({ maxEntries: 50 });
  for (let i = 0; i < 1000; i++) t.begin(`10.0.${i >> 8}.${i & 255}`, `user${i}`).failed();
  assert.ok((t as unknown as { entries: Map<string, unknown> }).entries.size <= 50);
});

test('parseHost and the allow-list', () => {
  assert.equal(parseHost('PrintBox.Local.:8443'), 'printbox.local');
  assert.equal(parseHost('[::1]:443'), '::1');
  assert.equal(parseHost('a b'), undefined);
  assert.equal(parseHost('evil.example@printbox'), undefined);
  let name = 'printbox';
  const hosts = createHostCheck({ hostname: () => name, interfaces: () => ({ eth0: [{ address: '192.168.1.7', family: 'IPv4' } as never] }), now: () => Date.now() * 0 });
  for (const ok of ['printbox', 'printbox.local:443', 'localhost', '127.0.0.1:8443', '[::1]', '192.168.1.7']) assert.ok(hosts.allowed(ok), ok);
  for (const bad of [undefined, '', 'evil.example', 'printbox.evil.example', '192.168.1.8', 'localhost.evil']) assert.ok(!hosts.allowed(bad), String(bad));
  name = 'renamed';
  assert.ok(hosts.allowed('printbox'), 'cached for a few seconds');
});

test('sameOrigin', () => {
  const req = (headers: Record<string, string>) => ({ headers }) as unknown as Request;
  assert.ok(sameOrigin(req({ host: 'printbox.local' })));
  assert.ok(sameOrigin(req({ host: 'printbox.local:8443', origin: 'https://PrintBox.local:8443' })));
  assert.ok(!sameOrigin(req({ host: 'printbox.local:8443', origin: 'https://printbox.local' })));
  assert.ok(!sameOrigin(req({ host: 'printbox.local', origin: 'http://printbox.local' })));
  assert.ok(!sameOrigin(req({ host: 'printbox.local', origin: 'null' })));
  assert.ok(!sameOrigin(req({ host: 'printbox.local', 'sec-fetch-site': 'cross-site' })));
});

test('account rules follow pam_unix (shadow fields)', () => {
  const day = 86_400_000;
  const now = 20_000 * day;
  const entry = (f: string) => parseShadow(`alice:${f}`)!;
  assert.deepEqual(accountVerdict(entry('$y$hash:19990:0:99999:7:::'), now), { ok: true });
  assert.deepEqual(accountVerdict(null, now), { ok: true });
  assert.equal(accountVerdict(entry('!$y$hash:19990:0:99999:7:::'), now).ok, false);
  assert.equal(accountVerdict(entry('$y$hash:19990:0:99999:7::20000:'), now).ok, false, 'expires today');
  assert.equal(accountVerdict(entry('$y$hash:19990:0:99999:7::20001:'), now).ok, true);
  assert.equal(accountVerdict(entry('$y$hash:0:0:99999:7:::'), now).ok, false, 'must change');
  assert.equal(accountVerdict(entry('$y$hash:19900:0:90:7:::'), now).ok, false, 'password expired');
  assert.equal(accountVerdict(entry('$y$hash:19900:0:90:7:5::'), now).ok, false, 'inactive');
  assert.equal(accountVerdict(entry('$y$hash:19950:0:90:7:::'), now).ok, true);
});
