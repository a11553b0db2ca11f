import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as OTPAuth from 'otpauth';
import { loadDeviceKey, seal, unseal } from '../../services/web/security/device-key.ts';
import { createTotpService, RECOVERY_CODES } from '../../services/web/security/totp.ts';
import { clock, tempDb } from './security-fixtures.ts';

async function setup(t: { after: (fn: () => Promise<void>) => void }) {
  const { db, dir, cleanup } = await tempDb();
  t.after(cleanup);
  const c = clock();
  const deviceKey = loadDeviceKey(dir);
  const totp = createTotpService({ db, deviceKey, now: c.now });
  return { db, dir, c, deviceKey, totp };
}
const codeAt = (secret: string, ms: number) => OTPAuth.TOTP.generate({ secret: OTPAuth.Secret.fromBase32(secret), timestamp: ms });

test('device key: 32 bytes, mode 0600, stable, tightened if loosened; seal binds to its label', async (t) => {
  const { dir, deviceKey } = await setup(t);
  const file = path.join(dir, 'device.key');
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.equal(deviceKey.length, 32);
  fs.chmodSync(file, 0o644);
  assert.deepEqual(loadDeviceKey(dir), deviceKey);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  const s = seal(deviceKey, Buffer.from('hello'), 'totp:ann');
  assert.equal(unseal(deviceKey, s, 'totp:ann').toString(), 'hello');
  assert.throws(() => unseal(deviceKey, s, 'totp:bob'), { code: 'secret_corrupt' });
  s[s.length - 1]! ^= 1;
  assert.throws(() => unseal(deviceKey, s, 'totp:ann'), { code: 'secret_corrupt' });
  fs.writeFileSync(path.join(dir, 'short.key'), 'x');
  assert.throws(() => loadDeviceKey(dir, 'short.key'), { code: 'device_key_invalid' });
});

test('enroll → QR + secret, encrypted at rest; confirm gives 10 recovery codes; a code is never accepted twice', async (t) => {
  const { db, c, totp } = await setup(t);
  const e = await totp.beginEnroll('ann');
  assert.match(e.uri, /^otpauth:\/\/totp\/PrintBox:ann\?/);
  assert.match(e.qr_svg, /^data:image\/svg\+xml;base64,/);
  assert.match(Buffer.from(e.qr_svg.split(',')[1]!, 'base64').toString(), /<svg/);
  const dump = JSON.stringify(await db.all('SELECT * FROM totp')) + (await db.all<{ secret_enc: Buffer }>('SELECT secret_enc FROM totp'))[0]!.secret_enc.toString('latin1');
  assert.ok(!dump.includes(e.secret), 'secret is not stored in the clear');
  assert.deepEqual(await totp.status('ann'), { enabled: false, pending: true, recovery_codes_left: 0, enforced: false });
  await assert.rejects(totp.confirm('ann', '000000'.replace(/0/g, () => String((Number(codeAt(e.secret, c.ms())[0]) + 1) % 10))), { code: 'totp_invalid' });
  const first = codeAt(e.secret, c.ms());
  const recovery = await totp.confirm('ann', first);
  assert.equal(recovery.length, RECOVERY_CODES);
  assert.equal(new Set(recovery).size, RECOVERY_CODES);
  await assert.rejects(totp.verify('ann', first), { code: 'totp_invalid' }, 'replay of the confirming code');
  c.advance(30_000);
  const second = codeAt(e.secret, c.ms());
  assert.deepEqual(await totp.verify('ann', second), { recovery: false });
  await assert.rejects(totp.verify('ann', second), { code: 'totp_invalid' }, 'replay within the window');
  c.advance(-30_000); // an older step inside the ±1 window is still refused: steps only move forward
  await assert.rejects(totp.verify('ann', codeAt(e.secret, c.ms() - 30_000)), { code: 'totp_invalid' });
  c.advance(30_000 * 5);
  // two requests racing with the same fresh code: exactly one wins (the step check is one UPDATE)
  const racing = codeAt(e.secret, c.ms());
  const results = await Promise.allSettled(Array.from({ length: 4 }, () => totp.verify('ann', racing)));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  c.advance(30_000);
  await assert.rejects(totp.beginEnroll('ann'), { code: 'totp_enabled' });
  assert.equal((await totp.status('ann')).recovery_codes_left, 10);
  assert.deepEqual(await totp.verify('ann', recovery[0]!.toLowerCase()), { recovery: true });
  await assert.rejects(totp.verify('ann', recovery[0]!), { code: 'totp_invalid' }, 'recovery codes are single-use');
  assert.equal((await totp.status('ann')).recovery_codes_left, 9);
  const hashes = JSON.stringify(await db.all('SELECT hex(hash) AS h FROM recovery_codes'));
  assert.ok(!recovery.some((r) => hashes.includes(r)), 'recovery codes stored hashed');
  await assert.rejects(totp.verify('bob', '123456'), { code: 'totp_invalid' }, 'no TOTP for that user');
});

test('wrong codes are throttled; disable needs a valid code; reset and enforcement', async (t) => {
  const { c, totp } = await setup(t);
  const e = await totp.beginEnroll('ann');
  await totp.confirm('ann', codeAt(e.secret, c.ms()));
  for (const bad of ['12345', 'abcdef', '', ' ', '1'.repeat(64)]) await assert.rejects(totp.verify('carl', bad), { code: 'totp_invalid' });
  await assert.rejects(totp.verify('ann', 1234567 as unknown as string), { code: 'invalid_code' });
  await assert.rejects(totp.verify('ann', 'x'.repeat(65)), { code: 'invalid_code' });
  for (let i = 0; i < 5; i++) await assert.rejects(totp.verify('ann', '999999' === codeAt(e.secret, c.ms()) ? '999998' : '999999'), { code: 'totp_invalid' });
  c.advance(30_000);
  await assert.rejects(totp.verify('ann', codeAt(e.secret, c.ms())), { code: 'totp_throttled', status: 429 }, 'even the right code waits out the lock');
  c.advance(5 * 60_000);
  await totp.disable('ann', codeAt(e.secret, c.ms()));
  assert.equal(await totp.isEnabled('ann'), false);
  await totp.setEnforced(true);
  assert.equal((await totp.status('ann')).enforced, true);
  const e2 = await totp.beginEnroll('ann');
  c.advance(30_000);
  await totp.confirm('ann', codeAt(e2.secret, c.ms()));
  await totp.reset('ann');
  assert.deepEqual(await totp.status('ann'), { enabled: false, pending: false, recovery_codes_left: 0, enforced: true });
});
