/**
 * Update bundles made by image/bundle.sh and read by RAUC itself (Debian's rauc on this machine): the
 * update service learns the compatible string and version of a bundle signed by the key the device
 * trusts; one signed under another CA, and one cut short in the download, are refused with RAUC's words
 * before anything could be written; the reference update server lists it. Installing into a slot is the
 * image tests' (it needs the device).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import type { AppError } from '../../services/shared/errors.ts';
import { newestFor, parseIndex } from '../../services/shared/update-index.ts';
import { publishChannel } from '../../services/update-server/publish.ts';
import { raucInstaller } from '../../services/updater/rauc.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const KEYS = path.join(ROOT, 'test/fixtures/update-keys');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'printbox-bundle-test-'));
const bundle = path.join(dir, 'printbox-0.3.0-arm64.raucb');

before(() => {
  // a small root file system that does not compress to nothing (RAUC wants more than one 4 KiB block)
  fs.mkdirSync(path.join(dir, 'tree/etc'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'tree/etc/noise'), randomBytes(200_000));
  execFileSync('mke2fs', ['-q', '-t', 'ext4', '-d', path.join(dir, 'tree'), path.join(dir, 'root.ext4'), '8M']);
  execFileSync('bash', [path.join(ROOT, 'image/bundle.sh'), path.join(dir, 'root.ext4'), '0.3.0', bundle], { stdio: ['ignore', 'ignore', 'pipe'] });
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('a bundle signed with the key the device trusts: its compatible string and version, verified by RAUC', async () => {
  const info = await raucInstaller({ keyring: path.join(KEYS, 'dev-ca.cert.pem') }).inspect(bundle);
  assert.deepEqual(info, { compatible: 'printbox-rpi-arm64', version: '0.3.0' });
});

test('a bundle from another key, and one cut short, are refused with what RAUC says', async () => {
  await assert.rejects(raucInstaller({ keyring: path.join(KEYS, 'other-ca.cert.pem') }).inspect(bundle), (e: AppError) => {
    assert.equal(e.code, 'update_bundle_invalid');
    assert.match(e.message, /^The bundle is not signed by a key this device trusts \(signature verification failed: .*\); nothing was changed$/);
    return true;
  });
  const cut = path.join(dir, 'cut.raucb');
  fs.writeFileSync(cut, fs.readFileSync(bundle).subarray(0, Math.floor(fs.statSync(bundle).size / 2)));
  await assert.rejects(raucInstaller({ keyring: path.join(KEYS, 'dev-ca.cert.pem') }).inspect(cut), (e: AppError) => {
    assert.equal(e.code, 'update_bundle_invalid');
    assert.match(e.message, /not a complete, usable update bundle \(Invalid bundle format: /);
    return true;
  });
});

test("the reference update server's index of a channel directory: what RAUC read from the manifest, the file's size and SHA-256", async () => {
  const channel = path.join(dir, 'stable');
  fs.mkdirSync(channel);
  fs.copyFileSync(bundle, path.join(channel, path.basename(bundle)));
  await publishChannel({ channel: 'stable', dir: channel, keyring: path.join(KEYS, 'dev-ca.cert.pem') });
  const index = parseIndex(JSON.parse(fs.readFileSync(path.join(channel, 'index.json'), 'utf8')), 'http://updates.test/stable/index.json');
  const offered = newestFor(index, 'printbox-rpi-arm64', '0.2.0');
  assert.equal(offered?.version, '0.3.0');
  assert.equal(offered?.url, 'http://updates.test/stable/printbox-0.3.0-arm64.raucb');
  assert.equal(offered?.size, fs.statSync(bundle).size);
  assert.equal(offered?.sha256, createHash('sha256').update(fs.readFileSync(bundle)).digest('hex'));
});
