/**
 * The RAUC client's output as RAUC 1.13 prints it (transcribed from rauc/rauc v1.13 src/main.c,
 * install.c, bundle.c and from Debian's 1.8 binary where marked), played back by a stand-in `rauc`
 * executable: progress, the refusals a user must understand, and the slot report. The real RAUC runs in
 * the image tests.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import type { AppError } from '../../services/shared/errors.ts';
import { parseStatus, raucInstaller } from '../../services/updater/rauc.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'printbox-rauc-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
// kernel command lines as the firmware leaves them, without and with our A/B boot loader (image/boot/boot.cmd)
const DIRECT = path.join(dir, 'cmdline-direct');
fs.writeFileSync(DIRECT, 'coherent_pool=1M 8250.nr_uarts=1 console=ttyAMA10,115200 root=PARTUUID=5072426f-02 rootwait\n');
const AB = path.join(dir, 'cmdline-ab');
fs.writeFileSync(AB, 'coherent_pool=1M console=ttyAMA0 root=PARTUUID=5072426f-02 rauc.slot=A panic=10\n');

/** A `rauc` that prints `out`/`err` and exits with `code` for the command its first argument names. */
function fakeRauc(cases: Record<string, { out?: string; err?: string; code?: number }>): string {
  const bin = path.join(dir, `rauc-${Object.keys(cases).join('-')}-${Math.random().toString(36).slice(2)}`);
  const branches = Object.entries(cases).map(([cmd, c]) => {
    fs.writeFileSync(`${bin}.${cmd}.out`, c.out ?? '');
    fs.writeFileSync(`${bin}.${cmd}.err`, c.err ?? '');
    return `  ${cmd}) cat "$0.${cmd}.out"; cat "$0.${cmd}.err" >&2; echo "$@" > "$0.${cmd}.args"; exit ${c.code ?? 0} ;;`;
  });
  fs.writeFileSync(bin, `#!/bin/sh\ncase "$1" in\n${branches.join('\n')}\nesac\nexit 99\n`, { mode: 0o755 });
  return bin;
}

const STATUS = {
  compatible: 'printbox-rpi-arm64', variant: null, booted: 'A', boot_primary: 'rootfs.1',
  slots: [
    { 'rootfs.1': { class: 'rootfs', device: '/dev/mmcblk0p3', type: 'ext4', bootname: 'B', state: 'inactive', parent: null, mountpoint: null, boot_status: 'good',
      slot_status: { bundle: { compatible: 'printbox-rpi-arm64', version: '0.3.0', hash: 'c41d' }, installed: { timestamp: '2026-12-06T10:00:00Z', count: 1 }, status: 'ok' } } },
    { 'rootfs.0': { class: 'rootfs', device: '/dev/mmcblk0p2', type: 'ext4', bootname: 'A', state: 'booted', parent: null, mountpoint: '/', boot_status: 'good',
      slot_status: { bundle: { compatible: null } } } },
  ],
  'artifact-repositories': [],
};

test('install: each progress line as RAUC prints it, in order, to the last 100 %', async () => {
  const out = ['installing', '  0% Installing', '  0% Determining slot states', ' 10% Determining slot states done.', ' 10% Checking bundle',
    ' 20% Checking bundle done.', ' 40% Updating slots', ' 46% Copying image to rootfs.1', ' 99% Copying image to rootfs.1 done.', '100% Installing done.',
    'Installing `/var/lib/printbox/update/printbox-0.3.0.raucb` succeeded', ''].join('\n');
  const bin = fakeRauc({ install: { out } });
  const seen: string[] = [];
  await raucInstaller({ bin, cmdline: AB }).install('/var/lib/printbox/update/printbox-0.3.0.raucb', (p, m) => seen.push(`${p} ${m}`));
  assert.deepEqual(seen, ['0 Installing', '0 Determining slot states', '10 Determining slot states done.', '10 Checking bundle', '20 Checking bundle done.',
    '40 Updating slots', '46 Copying image to rootfs.1', '99 Copying image to rootfs.1 done.', '100 Installing done.']);
  assert.equal(fs.readFileSync(`${bin}.install.args`, 'utf8').trim(), 'install /var/lib/printbox/update/printbox-0.3.0.raucb');
});

test('install on a board started without our A/B boot loader is refused before RAUC runs; with it, RAUC installs', async () => {
  const bin = fakeRauc({ install: { out: '100% Installing done.\n' } });
  for (const cmdline of [DIRECT, path.join(dir, 'no-such-cmdline')]) {
    await assert.rejects(raucInstaller({ bin, cmdline }).install('/b.raucb', () => undefined), (e: AppError) => {
      assert.equal(e.code, 'update_board_unsupported');
      assert.equal(e.status, 409);
      assert.match(e.message, /boots without the A\/B boot loader.*re-flash the card with the new image.*Nothing was changed/);
      return true;
    });
  }
  assert.ok(!fs.existsSync(`${bin}.install.args`), 'rauc never called');
  const seen: number[] = [];
  await raucInstaller({ bin, cmdline: AB }).install('/b.raucb', (p) => seen.push(p));
  assert.equal(fs.readFileSync(`${bin}.install.args`, 'utf8').trim(), 'install /b.raucb');
  assert.deepEqual(seen, [100]);
});

test("install refusals carry RAUC's own words and say that nothing changed", async () => {
  const failing = (lastError: string) => fakeRauc({ install: { out: `installing\n  0% Installing\n 10% Checking bundle\n 20% Checking bundle failed.\n100% Installing failed.\nLastError: ${lastError}\n`, err: 'Installing `/b.raucb` failed\n', code: 1 } });
  const cases: Array<[string, string, number, RegExp]> = [
    ['signature verification failed: Verify error: unable to get local issuer certificate', 'update_bundle_invalid', 422, /not signed by a key this device trusts \(signature verification failed: Verify error/],
    ['Invalid bundle format: Signature size (15484109345561358889) exceeds bundle size', 'update_bundle_invalid', 422, /not a complete, usable update bundle \(Invalid bundle format/],
    ["Compatible mismatch: Expected 'printbox-rpi-arm64' but bundle manifest has 'printbox-x86'", 'update_incompatible', 422, /^Compatible mismatch: Expected 'printbox-rpi-arm64' but bundle manifest has 'printbox-x86'; nothing was changed$/],
    ["Bundle format 'plain' not allowed", 'update_bundle_invalid', 422, /Bundle format 'plain' not allowed/],
    ['Installation error: Failed updating slot rootfs.1: No space left on device', 'update_engine_failed', 502, /^Installing: Installation error: Failed updating slot rootfs\.1/],
  ];
  for (const [lastError, code, status, message] of cases) {
    await assert.rejects(raucInstaller({ bin: failing(lastError), cmdline: AB }).install('/b.raucb', () => undefined), (e: AppError) => {
      assert.equal(e.code, code, lastError);
      assert.equal(e.status, status);
      assert.match(e.message, message);
      return true;
    });
  }
  // the service busy or not there: D-Bus errors on stderr, exit 2
  const busy = fakeRauc({ install: { err: 'Failed to contact rauc service: GDBus.Error:org.gtk.GDBus.UnmappedGError.Quark._g_2dio_2derror_2dquark.Code30: Already processing a different method\nD-Bus error while installing `/b.raucb`\n', code: 2 } });
  await assert.rejects(raucInstaller({ bin: busy, cmdline: AB }).install('/b.raucb', () => undefined), (e: AppError) => e.code === 'update_engine_busy' && e.status === 503);
  await assert.rejects(raucInstaller({ bin: path.join(dir, 'no-such-rauc') }).slots(), (e: AppError) => e.code === 'update_engine_missing' && e.status === 503);
});

test('info: compatible and version from the manifest; a bad signature or a cut file is refused before any install', async () => {
  const ok = fakeRauc({ info: { out: JSON.stringify({ compatible: 'printbox-rpi-arm64', version: '0.3.0', description: null, build: '20261206', format: 'verity', hooks: [], hash: 'ab', images: [{ rootfs: { filename: 'rootfs.ext4', checksum: 'cd', size: 1 } }] }) } });
  assert.deepEqual(await raucInstaller({ bin: ok }).inspect('/b.raucb'), { compatible: 'printbox-rpi-arm64', version: '0.3.0' });
  assert.equal(fs.readFileSync(`${ok}.info.args`, 'utf8').trim(), 'info --output-format=json /b.raucb');
  // observed with Debian's rauc 1.8: OpenSSL's lines can land on stdout after a signature failure
  const forged = fakeRauc({ info: { out: '80BF1E2A8E7F0000:error:1700006D:CMS routines:CMS_verify:content verify error:../crypto/cms/cms_smime.c:478:\n', err: 'signature verification failed: error:1700009E:CMS routines::verification failure\n', code: 1 } });
  await assert.rejects(raucInstaller({ bin: forged }).inspect('/b.raucb'), (e: AppError) => e.code === 'update_bundle_invalid' && /verification failure/.test(e.message));
  const cut = fakeRauc({ info: { err: 'Invalid bundle format: Signature size is 0\n', code: 1 } });
  await assert.rejects(raucInstaller({ bin: cut }).inspect('/b.raucb'), (e: AppError) => e.code === 'update_bundle_invalid' && /Signature size is 0/.test(e.message));
  const noVersion = fakeRauc({ info: { out: JSON.stringify({ compatible: 'printbox-rpi-arm64', version: null }) } });
  await assert.rejects(raucInstaller({ bin: noVersion }).inspect('/b.raucb'), (e: AppError) => e.code === 'update_bundle_invalid');
});

test('status: bootable slots by bootname, which runs, which starts next, their versions; mark-active other', async () => {
  const report = parseStatus(STATUS);
  assert.deepEqual(report, {
    compatible: 'printbox-rpi-arm64', booted: 'A',
    slots: [
      { name: 'rootfs.0', bootname: 'A', booted: true, primary: false, health: 'good' },
      { name: 'rootfs.1', bootname: 'B', booted: false, primary: true, health: 'good', version: '0.3.0', installed: '2026-12-06T10:00:00Z' },
    ],
  });
  const bin = fakeRauc({ status: { out: JSON.stringify(STATUS) } });
  assert.deepEqual(await raucInstaller({ bin }).slots(), report);
  assert.equal(fs.readFileSync(`${bin}.status.args`, 'utf8').trim(), 'status --detailed --output-format=json');
  const mark = fakeRauc({ status: { out: 'rauc status: activated slot rootfs.1\n' } });
  await raucInstaller({ bin: mark }).activateOther();
  assert.equal(fs.readFileSync(`${mark}.status.args`, 'utf8').trim(), 'status mark-active other');
  const none = fakeRauc({ status: { err: 'rauc mark: No other bootable slot of the same class found\n', code: 1 } });
  await assert.rejects(raucInstaller({ bin: none }).activateOther(), (e: AppError) => e.code === 'update_engine_failed' && /No other bootable slot/.test(e.message));
});
