/**
 * Boots dist/printbox-arm64.img on an emulated Raspberry Pi 3 B (`qemu-system-aarch64 -M raspi3b`)
 * the way the Pi firmware would: what the FAT's config.txt names (Debian's U-Boot for the Pi, which runs
 * boot.scr: slot A's kernel and initramfs with cmdline.txt), the device tree, and the whole image as the
 * SD card. So a config.txt, cmdline.txt, boot.scr, DTB or partition layout that would not boot a real Pi
 * fails here, which the `-M virt` boot (QEMU's own U-Boot, virtio disk) cannot catch. The checks run on the serial
 * console, logged in as the first-boot admin from printbox.txt. Prints the stage timings.
 * PRINTBOX_IMAGE_DIST: another build's dist/; PRINTBOX_RASPI_TIMEOUT_S: the boot's time limit (900).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PI3B, piBootPlan, type PiBootPlan } from './pi-firmware.ts';
import { bootRaspi, exec, growToPowerOfTwo, grownSizes, tail, type SerialConsole, type Vm } from './qemu.ts';

const DIST = process.env.PRINTBOX_IMAGE_DIST ?? path.resolve(import.meta.dirname, '../../dist');
const MIB = 1024 * 1024;
// TCG emulates the Pi's four cores on whatever the host has: minutes, not seconds.
const LOGIN_TIMEOUT_MS = Number(process.env.PRINTBOX_RASPI_TIMEOUT_S ?? 900) * 1000;
const UNITS = ['printbox.target', 'printbox-init.service', 'printbox-web.service', 'printbox-auth.socket',
  'printbox-printer.service', 'printbox-firstboot.service'];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'printbox-raspi-test-'));
const admin = { user: 'pitester', password: `pi-${crypto.randomBytes(9).toString('base64url')}` };
const consoleLog = path.join(tmp, 'console.log');
const stages: Array<[string, number]> = [];
let plan: PiBootPlan;
let cardSize = 0;
let vm: (Vm & { console: SerialConsole }) | undefined;

/** The Pi firmware boots from the first MBR partition, which must be FAT (types 0x0b, 0x0c, 0x0e). */
async function firmwarePartition(img: string): Promise<number> {
  const table = JSON.parse((await exec('sfdisk', ['-J', img])).stdout) as
    { partitiontable: { label: string; partitions: Array<{ start: number; type: string }> } };
  assert.equal(table.partitiontable.label, 'dos', 'the Pi firmware reads an MBR partition table');
  const first = table.partitiontable.partitions[0];
  assert.ok(first && ['b', 'c', 'e'].includes(first.type), `first partition is not FAT: ${JSON.stringify(first)}`);
  return first.start * 512;
}

// What a boot that went wrong prints (kernel, initramfs-tools, systemd): fail at once instead of at the timeout.
const BOOT_FAILED = /Kernel panic - not syncing|Gave up waiting for root|\(initramfs\) |You are in emergency mode|Give root password for maintenance/;

/** Waits for a console line and records when it came (seconds since QEMU started). */
async function stage(name: string, re: RegExp, timeoutMs: number): Promise<void> {
  await vm!.console.expect(re, timeoutMs, 0, BOOT_FAILED);
  stages.push([name, vm!.console.elapsed()]);
  console.log(`# raspi3b: ${name} after ${vm!.console.elapsed().toFixed(0)} s`);
}

before(async () => {
  assert.ok(fs.existsSync(path.join(DIST, 'printbox-arm64.img')), 'dist/printbox-arm64.img missing — run scripts/test-image.sh (it builds the image)');
  const sd = path.join(tmp, 'sd.img');
  await exec('cp', ['--sparse=always', path.join(DIST, 'printbox-arm64.img'), sd]);
  const fat = await firmwarePartition(sd);
  // An offline device with a local admin: the emulated Pi has no network to reach a cloud with.
  const cfg = path.join(tmp, 'printbox.txt');
  fs.writeFileSync(cfg, ['# written by test/image/raspi.test.ts', `admin_user = ${admin.user}`,
    `admin_password = "${admin.password}"`, 'offline = yes', ''].join('\n'));
  await exec('mcopy', ['-o', '-i', `${sd}@@${fat}`, cfg, '::printbox.txt']);
  // Like a real card, larger than the image: an image just under a power of two must not leave root nothing
  // to grow into (the 1.88 GB image on a 2 GiB card did).
  const size = growToPowerOfTwo(sd, 512 * MIB);
  cardSize = size;
  plan = await piBootPlan(sd, fat, PI3B, tmp);
  console.log(`# SD card ${size / MIB} MiB; config.txt for ${PI3B.name}: ${plan.config.applied.join(' | ')}`);
  console.log(`# cmdline.txt: ${plan.cmdline}`);
  // Pi 3: the PL011 drives Bluetooth, the header's UART is the mini UART (ttyS1 with the mainline DTB).
  // earlycon prints from the first kernel line on, so "time to kernel" is measured, not guessed.
  const append = `${plan.cmdline} console=ttyS1,115200 earlycon`;
  console.log(`# booting ${path.basename(plan.kernel)} + ${path.basename(plan.initrd ?? '(no initramfs)')} + ${path.basename(plan.dtb)} (console: ${consoleLog})`);
  vm = bootRaspi({ machine: 'raspi3b', sd, kernel: plan.kernel, initrd: plan.initrd, dtb: plan.dtb, append, consoleLog, uart: 'mini' });
  vm.proc.once('exit', (code) => console.log(`# qemu exited (${code})`));
  try {
    await stage('U-Boot chose slot A', /PrintBox: booting slot A/, 120_000);
    await stage('kernel started', /Booting Linux on physical CPU/, 120_000);
    // A root that is not found ends in initramfs-tools' "Gave up waiting for root" (about a minute here).
    await stage('root mounted from the SD card', /EXT4-fs \(mmcblk\dp2\): mounted/, 300_000);
    await stage('login prompt', /login: /, LOGIN_TIMEOUT_MS);
    await vm.console.login(admin.user, admin.password, 5 * 60_000);
    stages.push(['logged in', vm.console.elapsed()]);
  } catch (e) {
    console.log(tail(consoleLog));
    throw e;
  }
});

after(async () => {
  await vm?.stop();
  console.log(`# raspi3b stage timings (s since QEMU start): ${stages.map(([n, s]) => `${n} ${s.toFixed(0)}`).join(', ')}`);
  if (process.env.PRINTBOX_KEEP_TEST_IMAGE) console.log(`# kept ${tmp}`);
  else fs.rmSync(tmp, { recursive: true, force: true });
});

test("the firmware starts U-Boot, which boots slot A's kernel and initramfs with cmdline.txt and the Pi 3 B device tree", async () => {
  assert.equal(path.basename(plan.kernel), 'u-boot.bin', `config.txt starts ${plan.kernel} on a Pi 3`);
  const cmdline = (await vm!.console.run('cat /proc/cmdline')).trim();
  assert.ok(cmdline.startsWith(plan.cmdline), `kernel command line ${cmdline}`);
  assert.match(cmdline, / root=PARTUUID=5072426f-02 rauc\.slot=A /);
  // the SD card driver is a module: without the slot's initramfs root would not be found
  assert.match(fs.readFileSync(consoleLog, 'latin1'), /Trying to unpack rootfs image as initramfs|Freeing initrd memory/);
  assert.equal((await vm!.console.run('tr -d "\\0" < /proc/device-tree/model')).trim(), 'Raspberry Pi 3 Model B');
  assert.equal((await vm!.console.run('uname -m')).trim(), 'aarch64');
});

test('root, /boot/firmware and /data are the SD card partitions; root fills its slot, data the card', async () => {
  // The mainline DTB has no mmc aliases: the card is mmcblk0 or mmcblk1 depending on which of the two
  // SD controllers probed first, which is why root is named by PARTUUID and the others by label.
  const [root, firmware] = (await vm!.console.run('findmnt -no SOURCE /; findmnt -no SOURCE /boot/firmware')).trim().split('\n');
  assert.match(root ?? '', /^\/dev\/mmcblk\dp2$/);
  assert.equal(firmware, root!.replace(/p2$/, 'p1'));
  assert.equal((await vm!.console.run('findmnt -no SOURCE /data')).trim(), root!.replace(/p2$/, 'p4'));
  // printbox-init (which grows both) is ordered before logins are allowed, so it has run by now.
  const spare = (cardSize - fs.statSync(path.join(DIST, 'printbox-arm64.img')).size) / MIB;
  assert.equal(grownSizes(await vm!.console.run('df --output=size -B1 / /data | tail -2'), spare), undefined);
});

test('printbox.target and every PrintBox unit are active', async () => {
  // Boot is over when systemd says so (running, or degraded with a failed unit, which is shown below).
  // The guest's own timeout keeps a unit stuck in "activating" a readable failure below, not a console timeout.
  const state = (await vm!.console.run(`timeout ${LOGIN_TIMEOUT_MS / 1000} systemctl is-system-running --wait`, LOGIN_TIMEOUT_MS + 60_000)).trim();
  stages.push(['boot finished', vm!.console.elapsed()]);
  console.log(`# raspi3b: system ${state} after ${vm!.console.elapsed().toFixed(0)} s; ` +
    (await vm!.console.run('systemd-analyze time | head -1')).trim());
  const failed = (await vm!.console.run('systemctl --failed --no-legend --plain | cut -d" " -f1')).trim();
  if (failed) console.log(`# raspi3b: failed units: ${failed.split('\n').join(' ')}`);
  const out = await vm!.console.run(`systemctl is-active ${UNITS.join(' ')}`);
  const states = out.trim().split('\n');
  const journals = UNITS.filter((u, i) => states[i] !== 'active' && u.endsWith('.service')).map((u) => `journalctl -b -u ${u} -n 15 --no-pager -o short-monotonic`);
  // A unit that is not active says why in its journal: print that with the failure, the console is gone after.
  const why = journals.length
    ? await vm!.console.run(`echo '${admin.password}' | sudo -S -p '' sh -c '${journals.join('; ')}' | cut -c1-240`) : '';
  assert.deepEqual(states, UNITS.map(() => 'active'), `${UNITS.join(' ')}:\n${out}\n${why}`);
  // When each unit became active, in seconds since the kernel started (the guest's own clock).
  const entered = await vm!.console.run(`for u in ${UNITS.join(' ')}; do echo "$u $(systemctl show -P ActiveEnterTimestampMonotonic $u)"; done`);
  console.log(`# raspi3b: active since kernel start: ${entered.trim().split('\n')
    .map((l) => { const [u, us] = l.split(' '); return `${u} ${(Number(us) / 1e6).toFixed(0)} s`; }).join(', ')}`);
});
