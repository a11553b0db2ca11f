/**
 * The A/B boot choice as real U-Boot makes it (Debian's u-boot-qemu under qemu-system-aarch64 -M virt),
 * running image/boot/boot.cmd from a FAT partition of a small card: each boot takes a try from the first
 * slot in BOOT_ORDER that has one, a slot out of tries gives way to the next, two used-up slots start over,
 * a damaged pbslot.env falls back to A, and what RAUC writes with fw_setenv (libubootenv, the tool the
 * device uses) is what U-Boot reads. The slots hold no kernel here: each boot ends at booti and resets,
 * which QEMU (-no-reboot) turns into an exit, so one QEMU run is one boot attempt of a few seconds.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const UBOOT = '/usr/lib/u-boot/qemu_arm64/u-boot.bin';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'printbox-uboot-'));
const card = path.join(dir, 'card.img');
const fat = path.join(dir, 'boot.fat');
const MiB = 1024 * 1024;
const sh = (cmd: string, args: string[], input?: string) => execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });

before(() => {
  assert.ok(fs.existsSync(UBOOT), `${UBOOT} missing: scripts install u-boot-qemu with the image test tools`);
  sh('mkimage', ['-q', '-A', 'arm64', '-T', 'script', '-C', 'none', '-n', 'PrintBox A/B', '-d', path.join(ROOT, 'image/boot/boot.cmd'), path.join(dir, 'boot.scr')]);
  sh('mkfs.vfat', ['-F', '32', '-n', 'PBBOOT', '-C', fat, String(64 * 1024)]);
  sh('mcopy', ['-i', fat, path.join(dir, 'boot.scr'), '::/boot.scr']);
  for (const slot of ['A', 'B']) {
    const tree = path.join(dir, `root${slot}`);
    fs.mkdirSync(path.join(tree, 'boot'), { recursive: true });
    fs.writeFileSync(path.join(tree, 'boot/Image'), `not a kernel: slot ${slot}\n`);
    fs.writeFileSync(path.join(tree, 'boot/initrd.img'), 'not an initrd\n');
    sh('mke2fs', ['-q', '-t', 'ext4', '-L', `PBROOT${slot}`, '-d', tree, path.join(dir, `root${slot}.ext4`), '16M']);
  }
  fs.writeFileSync(card, Buffer.alloc(0));
  fs.truncateSync(card, (4 + 64 + 16 + 16) * MiB);
  sh('sfdisk', ['-q', card], 'label: dos\nlabel-id: 0x5072426f\nstart=4MiB, size=64MiB, type=c, bootable\nstart=68MiB, size=16MiB, type=83\nstart=84MiB, size=16MiB, type=83\n');
  const put = (file: string, mib: number) => sh('dd', [`if=${file}`, `of=${card}`, 'bs=1M', `seek=${mib}`, 'conv=notrunc', 'status=none']);
  put(fat, 4); put(path.join(dir, 'rootA.ext4'), 68); put(path.join(dir, 'rootB.ext4'), 84);
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** One power-on: U-Boot runs boot.scr, which ends in a reset; returns the console. */
function boot(): Promise<string> {
  return new Promise((resolve, reject) => {
    const q = spawn('qemu-system-aarch64', ['-M', 'virt', '-cpu', 'cortex-a53', '-m', '256', '-nographic', '-no-reboot', '-bios', UBOOT,
      '-drive', `if=none,id=sd,format=raw,file=${card}`, '-device', 'virtio-blk-device,drive=sd', '-nic', 'none'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    q.stdout.on('data', (c: Buffer) => { out += c.toString('latin1'); });
    q.stderr.on('data', (c: Buffer) => { out += c.toString('latin1'); });
    const timer = setTimeout(() => { q.kill('SIGKILL'); reject(new Error(`U-Boot did not reset within 90 s:\n${out.slice(-3000)}`)); }, 90_000);
    q.on('close', () => { clearTimeout(timer); resolve(out); });
  });
}

/** The card's pbslot.env as fw_printenv reads it (the way RAUC reads it on the device). */
function slotEnv(): Record<string, string> {
  sh('dd', [`if=${card}`, `of=${fat}`, 'bs=1M', 'skip=4', 'count=64', 'status=none']);
  const file = path.join(dir, 'pbslot.env');
  fs.rmSync(file, { force: true });
  sh('mcopy', ['-i', fat, '::/pbslot.env', file]);
  fs.writeFileSync(path.join(dir, 'fw_env.config'), `${file} 0x0000 0x4000\n`);
  const out = sh('fw_printenv', ['-c', path.join(dir, 'fw_env.config')]);
  return Object.fromEntries(out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** Sets variables with fw_setenv as RAUC's uboot backend does, then puts the file back on the card. */
function setEnv(vars: Record<string, string>): void {
  slotEnv();
  const file = path.join(dir, 'pbslot.env');
  for (const [k, v] of Object.entries(vars)) sh('fw_setenv', ['-c', path.join(dir, 'fw_env.config'), k, v]);
  sh('mcopy', ['-o', '-i', fat, file, '::/pbslot.env']);
  sh('dd', [`if=${fat}`, `of=${card}`, 'bs=1M', 'seek=4', 'conv=notrunc', 'status=none']);
}

const chosen = (console: string) => /PrintBox: booting slot (\w) \(partition (\d); tries left A=(\w+) B=(\w+)\)/.exec(console)?.slice(1);

test('a new card boots A and writes the slot state; each boot takes one try until A gives way to B', async () => {
  const t0 = Date.now();
  const first = await boot();
  assert.match(first, /no pbslot.env, first boot/);
  assert.deepEqual(chosen(first), ['A', '2', '2', '3']);
  assert.match(first, /root=PARTUUID=5072426f-02 .*rauc\.slot=A/s, 'the kernel line names the slot and its partition');
  assert.deepEqual(slotEnv(), { BOOT_A_LEFT: '2', BOOT_B_LEFT: '3', BOOT_ORDER: 'A B' });
  assert.deepEqual(chosen(await boot()), ['A', '2', '1', '3']);
  assert.deepEqual(chosen(await boot()), ['A', '2', '0', '3']);
  assert.deepEqual(chosen(await boot()), ['B', '3', '0', '2'], 'A never marked itself good: B boots');
  console.log(`# four U-Boot boots in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
});

test("RAUC's switch to B (fw_setenv BOOT_ORDER, BOOT_B_LEFT) is the next boot; mark-good refills the tries", async () => {
  setEnv({ BOOT_ORDER: 'B A', BOOT_A_LEFT: '3', BOOT_B_LEFT: '3' });
  assert.deepEqual(chosen(await boot()), ['B', '3', '3', '2']);
  setEnv({ BOOT_B_LEFT: '3' }); // rauc status mark-good on the booted B
  assert.deepEqual(chosen(await boot()), ['B', '3', '3', '2']);
});

test('both slots out of tries: never unbootable, both get three again and A starts', async () => {
  setEnv({ BOOT_ORDER: 'A B', BOOT_A_LEFT: '0', BOOT_B_LEFT: '0' });
  const out = await boot();
  assert.match(out, /no slot has tries left \(A B\); giving each three again/);
  assert.deepEqual(slotEnv(), { BOOT_A_LEFT: '3', BOOT_B_LEFT: '3', BOOT_ORDER: 'A B' });
  assert.deepEqual(chosen(await boot()), ['A', '2', '2', '3']);
});

test('a damaged pbslot.env (a power cut while it was written) falls back to A B with three tries each', async () => {
  sh('dd', [`if=${card}`, `of=${fat}`, 'bs=1M', 'skip=4', 'count=64', 'status=none']);
  const junk = path.join(dir, 'junk.env');
  fs.writeFileSync(junk, Buffer.alloc(0x4000, 0x5a));
  sh('mcopy', ['-o', '-i', fat, junk, '::/pbslot.env']);
  sh('dd', [`if=${fat}`, `of=${card}`, 'bs=1M', 'seek=4', 'conv=notrunc', 'status=none']);
  assert.deepEqual(chosen(await boot()), ['A', '2', '2', '3']);
});
