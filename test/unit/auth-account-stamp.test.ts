/**
 * Account stamps: the auth helper's stamp (services/auth/checker.ts) changes with the shadow
 * entry and groups and is null when the account may not sign in; the web's re-check
 * (services/web/account-check.ts) asks at most once per interval per session and fails open.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';
import type { AccountFacts } from '../../services/auth/accounts.ts';
import { createPamChecker } from '../../services/auth/checker.ts';
import { AppError } from '../../services/shared/errors.ts';
import { createLogger } from '../../services/shared/log.ts';
import { createAccountCheck } from '../../services/web/account-check.ts';

const log = createLogger({ scope: 'test', level: 'error' });
const shadow = { hash: '$y$j9T$salt$hash', lastChange: 20000, maxDays: 99999, inactiveDays: null, expireDay: null };

function checker(facts: () => AccountFacts | null, key = crypto.randomBytes(32)) {
  return createPamChecker({ service: 'x', allowedGroups: ['printbox'], log, pam: async () => undefined, lookup: async () => facts(), stampKey: key, refusalDelayMs: 0 });
}

test('the stamp is stable for an unchanged account and changes with the password, lock and groups', async () => {
  let facts: AccountFacts | null = { uid: 1001, groups: ['printbox', 'users'], shadow };
  const key = crypto.randomBytes(32);
  const c = checker(() => facts, key);
  const login = await c.authenticate('alice', 'pw');
  const s0 = await c.stamp('alice');
  assert.equal(typeof s0, 'string');
  assert.equal(login.stamp, s0, 'login returns the same stamp');
  assert.ok(!s0!.includes('hash') && !s0!.includes('salt'), 'no part of the hash');
  assert.equal(await c.stamp('alice'), s0);
  assert.equal(await checker(() => facts, key).stamp('alice'), s0, 'same key (a restarted helper): same stamp');
  assert.notEqual(await checker(() => facts).stamp('alice'), s0, 'another key: another stamp');
  facts = { uid: 1001, groups: ['users', 'printbox'], shadow };
  assert.equal(await c.stamp('alice'), s0, 'group order does not matter');
  facts = { uid: 1001, groups: ['printbox', 'users'], shadow: { ...shadow, hash: '$y$j9T$salt2$hash2', lastChange: 20001 } };
  assert.notEqual(await c.stamp('alice'), s0, 'password changed');
  facts = { uid: 1001, groups: ['printbox', 'users', 'printbox-admins'], shadow };
  assert.notEqual(await c.stamp('alice'), s0, 'groups changed');
  facts = { uid: 1001, groups: ['printbox'], shadow: { ...shadow, hash: '!' + shadow.hash } };
  assert.equal(await c.stamp('alice'), null, 'locked');
  facts = { uid: 1001, groups: ['printbox'], shadow: { ...shadow, expireDay: 1 } };
  assert.equal(await c.stamp('alice'), null, 'expired');
  facts = { uid: 1001, groups: ['users'], shadow };
  assert.equal(await c.stamp('alice'), null, 'outside the allowed groups');
  facts = { uid: 0, groups: ['printbox'], shadow };
  assert.equal(await c.stamp('alice'), null, 'uid 0');
  facts = null;
  assert.equal(await c.stamp('alice'), null, 'gone');
  assert.equal(await c.stamp('../etc'), null, 'malformed names are null, not an error');
  assert.equal(await c.stamp(42), null);
});

test('the web re-checks at most once per interval per session, shares concurrent checks, and fails open', async () => {
  let t = 0;
  let calls = 0;
  let answer: () => Promise<{ stamp: string | null }> = async () => ({ stamp: 'A' });
  const pam = { call: async () => { calls++; return answer(); } };
  const check = createAccountCheck({ pam: pam as never, intervalMs: 30_000, log, now: () => t });
  assert.equal(await check.stillValid('s1', 'alice', 'A'), true);
  assert.equal(calls, 1);
  t = 29_999;
  assert.equal(await check.stillValid('s1', 'alice', 'A'), true);
  assert.equal(calls, 1, 'within the interval: no call');
  t = 30_000;
  assert.deepEqual(await Promise.all([check.stillValid('s1', 'alice', 'A'), check.stillValid('s1', 'alice', 'A')]), [true, true]);
  assert.equal(calls, 2, 'concurrent requests share one call');
  answer = async () => { throw new AppError('service_unavailable', 503, 'down'); };
  t = 60_000;
  assert.equal(await check.stillValid('s1', 'alice', 'A'), true, 'helper down: the session goes on');
  answer = async () => ({ stamp: 'B' });
  t = 60_001;
  assert.equal(await check.stillValid('s1', 'alice', 'A'), true, 'and the next try waits an interval');
  t = 90_000;
  assert.equal(await check.stillValid('s1', 'alice', 'A'), false, 'changed stamp');
  answer = async () => ({ stamp: null });
  assert.equal(await check.stillValid('s2', 'bob', 'A'), false, 'null: may no longer sign in');
});
