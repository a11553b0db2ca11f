/**
 * The printbox.txt handling of the image's first-boot script (image/overlay/usr/lib/printbox/init.sh),
 * run on the host with bash against a temp "boot partition": BOM, CRLF, quotes, comments, and the
 * secret being replaced by a comment while every other line stays byte-identical.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exec } from './qemu.ts';

const INIT = path.resolve(import.meta.dirname, '../../image/overlay/usr/lib/printbox/init.sh');

async function run(boot: string, fn: string): Promise<string> {
  const { stdout } = await exec('bash', ['-c', `source "${INIT}"; ${fn}`], { env: { ...process.env, PRINTBOX_BOOT_DIR: boot } });
  return stdout;
}

function bootDir(content: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'printbox-init-'));
  fs.writeFileSync(path.join(dir, 'printbox.txt'), content);
  return dir;
}

test('values are read through BOM, CRLF, spaces and quotes; comments and other keys are ignored', async () => {
  const dir = bootDir('\uFEFFadmin_user = maker\r\n#admin_password = commented\r\n  admin_password\t=  "p a=ss#1"  \r\nemail=x@y\r\n');
  try {
    assert.equal(await run(dir, 'cfg_get admin_user'), 'maker\n');
    assert.equal(await run(dir, 'cfg_get admin_password'), 'p a=ss#1\n');
    await assert.rejects(run(dir, 'cfg_get wifi_ssid'));
  } finally { fs.rmSync(dir, { recursive: true }); }
});

test('a missing file has no values', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'printbox-init-'));
  try { await assert.rejects(run(dir, 'cfg_get admin_user')); } finally { fs.rmSync(dir, { recursive: true }); }
});

test('the secret line becomes a comment; the rest of the file is untouched', async () => {
  const original = '\uFEFFadmin_user = maker\r\nadmin_password = "hunter2hunter2"\r\ncloud_url = https://c.example\r\n';
  const dir = bootDir(original);
  try {
    await run(dir, 'cfg_replace admin_password "(removed after use)"');
    const after = fs.readFileSync(path.join(dir, 'printbox.txt'), 'utf8');
    assert.ok(!after.includes('hunter2'));
    assert.equal(after, '\uFEFFadmin_user = maker\r\n# admin_password = (removed after use)\ncloud_url = https://c.example\r\n');
    assert.deepEqual(fs.readdirSync(dir), ['printbox.txt'], 'temp file left behind');
  } finally { fs.rmSync(dir, { recursive: true }); }
});
