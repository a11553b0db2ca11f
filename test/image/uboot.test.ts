/**
 * The A/B boot choice as real U-Boot makes it (Debian's u-boot-qemu under qemu-system-aarch64 -M virt),
 * running image/boot/boot.cmd from a FAT partition of a small card: each boot takes a try from the first
 * slot in BOOT_ORDER that has one, a slot out of tries gives way to the next, two used-up slots start over,
 * a damaged pbslot.txt falls back to A, and what RAUC writes through the device's own backend
 * (image/overlay/usr/lib/printbox/rauc-backend, run here the way RAUC runs it) is what U-Boot reads. The slots hold no kernel here: each boot ends at booti and resets,
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
const CMDLINE = 'console=tty0 root=PARTUUID=5072426f-02 rootfstype=ext4 rootwait systemd.run=/boot/firstrun.sh systemd.run_success_action=reboot';
const sh = (cmd: string, args: string[], input?: string) => execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });

before(() => {
  assert.ok(fs.existsSync(UBOOT), `${UBOOT} missing: scripts install u-boot-qemu with the image test tools`);
  sh('mkimage', ['-q', '-A', 'arm64', '-T', 'script', '-C', 'none', '-n', 'PrintBox A/B', '-d', path.join(ROOT, 'image/boot/boot.cmd'), path.join(dir, 'boot.scr')]);
  sh('mkfs.vfat', ['-F', '32', '-n', 'PBBOOT', '-C', fat, String(64 * 1024)]);
  sh('mcopy', ['-i', fat, path.join(dir, 'boot.scr'), '::/boot.scr']);
  // as Raspberry Pi Imager leaves it: its firstrun.sh on the line, and a Windows line end
  fs.writeFileSync(path.join(dir, 'cmdline.txt'), `${CMDLINE}\r\n`);
  sh('mcopy', ['-i', fat, path.join(dir, 'cmdline.txt'), '::/cmdline.txt']);
  for (const slot of ['A', 'B']) {
    const tree = path.join(dir, `root${slot}`);
    fs.mkdirSync(path.join(tree, 'boot'), { recursive: true });
    // the links the device's kernel hook keeps (link_in_boot), as U-Boot must follow them
    fs.writeFileSync(path.join(tree, 'boot/vmlinuz-6.99-arm64'), `not a kernel: slot ${slot}\n`);
    fs.writeFileSync(path.join(tree, 'boot/initrd.img-6.99-arm64'), 'not an initrd\n');
    fs.symlinkSync('vmlinuz-6.99-arm64', path.join(tree, 'boot/vmlinuz'));
    fs.symlinkSync('initrd.img-6.99-arm64', path.join(tree, 'boot/initrd.img'));
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

const BACKEND = path.join(ROOT, 'image/overlay/usr/lib/printbox/rauc-backend');
const stateFile = path.join(dir, 'pbslot.txt');

/** Copies the FAT out of the card and pbslot.txt out of the FAT. */
function fetchState(): void {
  sh('dd', [`if=${card}`, `of=${fat}`, 'bs=1M', 'skip=4', 'count=64', 'status=none']);
  fs.rmSync(stateFile, { force: true });
  sh('mcopy', ['-i', fat, '::/pbslot.txt', stateFile]);
}

/** The slot state as U-Boot left it, without U-Boot's trailing NUL. */
function slotState(): Record<string, string> {
  fetchState();
  const text = fs.readFileSync(stateFile, 'latin1').replace(/\0+$/, '');
  return Object.fromEntries(text.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** Runs the device's backend on the card's state, as RAUC would, and puts the file back. */
function rauc(...args: string[]): string {
  fetchState();
  const out = execFileSync(BACKEND, args, { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', PRINTBOX_SLOT_FILE: stateFile } });
  sh('mcopy', ['-o', '-i', fat, stateFile, '::/pbslot.txt']);
  sh('dd', [`if=${fat}`, `of=${card}`, 'bs=1M', 'seek=4', 'conv=notrunc', 'status=none']);
  return out.trim();
}

const chosen = (console: string) => /PrintBox: booting slot (\w) \(partition (\d); tries left A=(\w+) B=(\w+)\)/.exec(console)?.slice(1);

test('a new card boots A and writes the slot state; each boot takes one try until A gives way to B', async () => {
  const t0 = Date.now();
  const first = await boot();
  assert.match(first, /no pbslot.txt, first boot/);
  assert.deepEqual(chosen(first), ['A', '2', '2', '3']);
  const line = /PrintBox: kernel line (.*)/.exec(first)?.[1]?.trimEnd();
  assert.equal(line, `${CMDLINE} console=ttyAMA0 root=PARTUUID=5072426f-02 rauc.slot=A panic=10`,
    "cmdline.txt's one line, then the slot's root and name");
  // "not a kernel: slot A\n" and "not an initrd\n": U-Boot followed the /boot links to the slot's files
  assert.match(first, /21 bytes read[^]*14 bytes read/, 'kernel and initramfs loaded through the /boot links');
  assert.deepEqual(slotState(), { BOOT_A_LEFT: '2', BOOT_B_LEFT: '3', BOOT_ORDER: 'A B' });
  assert.equal(rauc('get-primary'), 'A');
  assert.equal(rauc('get-state', 'A'), 'good');
  assert.deepEqual(chosen(await boot()), ['A', '2', '1', '3']);
  assert.deepEqual(chosen(await boot()), ['A', '2', '0', '3']);
  assert.deepEqual(chosen(await boot()), ['B', '3', '0', '2'], 'A never marked itself good: B boots');
  console.log(`# four U-Boot boots in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
});

test("an install's switch to B is the next boot; mark-good refills the tries; mark-bad hands back to A", async () => {
  // what RAUC does around writing slot B: set-state B bad, write, set-primary B
  rauc('set-state', 'A', 'good');
  rauc('set-state', 'B', 'bad');
  assert.equal(rauc('get-state', 'B'), 'bad');
  rauc('set-primary', 'B');
  assert.deepEqual(slotState(), { BOOT_ORDER: 'B A', BOOT_A_LEFT: '3', BOOT_B_LEFT: '3' });
  assert.deepEqual(chosen(await boot()), ['B', '3', '3', '2']);
  rauc('set-state', 'B', 'good'); // rauc status mark-good on the booted B
  assert.deepEqual(chosen(await boot()), ['B', '3', '3', '2']);
  rauc('set-state', 'B', 'bad'); // the trial failed: rauc status mark-bad booted, then a restart
  assert.equal(rauc('get-primary'), 'A');
  assert.deepEqual(chosen(await boot()), ['A', '2', '2', '0']);
});

test('both slots out of tries: never unbootable, both get three again and A starts', async () => {
  rauc('set-state', 'A', 'bad');
  rauc('set-state', 'B', 'bad');
  assert.deepEqual(slotState(), { BOOT_ORDER: '', BOOT_A_LEFT: '0', BOOT_B_LEFT: '0' });
  const out = await boot();
  assert.match(out, /no slot has tries left \(\); giving each three again/);
  assert.deepEqual(slotState(), { BOOT_A_LEFT: '3', BOOT_B_LEFT: '3', BOOT_ORDER: 'A B' });
  assert.deepEqual(chosen(await boot()), ['A', '2', '2', '3']);
});

test('a damaged pbslot.txt (a power cut while it was written) falls back to A B with three tries each', async () => {
  sh('dd', [`if=${card}`, `of=${fat}`, 'bs=1M', 'skip=4', 'count=64', 'status=none']);
  const junk = path.join(dir, 'junk.txt');
  fs.writeFileSync(junk, Buffer.alloc(700, 0x5a));
  sh('mcopy', ['-o', '-i', fat, junk, '::/pbslot.txt']);
  sh('dd', [`if=${fat}`, `of=${card}`, 'bs=1M', 'seek=4', 'conv=notrunc', 'status=none']);
  assert.deepEqual(chosen(await boot()), ['A', '2', '2', '3']);
});
