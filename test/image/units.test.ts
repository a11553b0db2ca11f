/**
 * The unit files in systemd/: they parse without unknown or invalid settings, and
 * `systemd-analyze security --offline=true` rates printbox-web, printbox-printer and the camera unit at exposure ≤ 2.5.
 * Runs on the host's systemd; assemble.sh repeats the security check with the image's own systemd.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { exec } from './qemu.ts';

const DIR = path.resolve(import.meta.dirname, '../../systemd');
const units = fs.readdirSync(DIR).filter((f) => /\.(service|socket|path|target|timer)$/.test(f));

test('every unit parses cleanly', async () => {
  assert.ok(units.length >= 7, `units: ${units.join(' ')}`);
  const { stdout, stderr } = await exec('systemd-analyze', ['verify', '--man=no', ...units.map((u) => path.join(DIR, u))])
    .catch((e: { stdout: string; stderr: string }) => e);
  // Missing binaries (/opt/printbox only exists in the image) are expected here; syntax problems are not.
  const problems = `${stdout}\n${stderr}`.split('\n')
    .filter((l) => /Unknown (key|section)|Invalid|Failed to parse|unknown|ignoring/i.test(l));
  assert.deepEqual(problems, []);
});

for (const unit of ['printbox-web.service', 'printbox-printer.service', 'printbox-auth.service', 'printbox-camera@.service']) {
  test(`${unit} exposure`, async () => {
    const out = await exec('systemd-analyze', ['security', '--offline=true', '--no-pager', path.join(DIR, unit)]);
    const level = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(out.stdout)?.[1]);
    console.log(`# ${unit}: exposure ${level}`);
    assert.ok(level > 0 && level <= (unit === 'printbox-auth.service' ? 3.5 : 2.5), `${unit} exposure ${level}`);
  });
}
