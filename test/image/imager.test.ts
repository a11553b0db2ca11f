/**
 * Raspberry Pi Imager's OS customisation on the built image, under QEMU (`-M virt`). The files Imager
 * 2.0.11.1 writes (test/fixtures/imager/2.0.11.1: firstrun.sh, cmdline.txt) go byte for byte onto the
 * FAT of a copy of dist/printbox-arm64.img, which then powers on once (test/image/qemu.ts boot()): U-Boot
 * passes that cmdline.txt (systemd.run=/boot/firstrun.sh …) to the kernel, boot 1 must end in the reboot
 * Imager asks for, and U-Boot starts boot 2, a normal one, on its own. From the host: the Imager account
 * signs in over SSH with its password,
 * NetworkManager has the hidden Wi-Fi with SSID, PSK and country, hostname, time zone and keyboard are
 * set, and nothing of firstrun.sh is left on the FAT. PRINTBOX_IMAGE_DIST: another build's dist/.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { boot, exec, freePort, grownSizes, tail, waitFor, type Vm } from './qemu.ts';

const DIST = process.env.PRINTBOX_IMAGE_DIST ?? path.resolve(import.meta.dirname, '../../dist');
const FIXTURE = path.resolve(import.meta.dirname, '../fixtures/imager/2.0.11.1');
const FAT = `@@${4 * 1024 * 1024}`; // image/assemble.sh: FAT32 boot partition at 4 MiB
const BASE_CMDLINE = 'console=tty0 root=PARTUUID=5072426f-02 rootfstype=ext4 fsck.repair=yes net.ifnames=0 cma=64M rootwait';
// What the fixture was made from (test/fixtures/imager/README.md)
const maker = { user: 'maker', password: 'maker-pass-20', hash: '$y$j9T$abcdefghijklmnop$IVIQ.EcDFZN0xGheFQUpn/zENWJqMJGSxzYO9Ig.HB1' };
const wifi = { ssid: 'Café "Ø" Net', pmk: '7fc2eee2b1324a22ea2df184d69d25ee946f80b755f659308b79cea41075825b' };

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'printbox-imager-image-'));
const img = path.join(tmp, 'imager.img');
const timings: string[] = [];
let sshPort = 0;
let vm: Vm | undefined;

const stage = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
  const t0 = Date.now();
  try { return await fn(); } finally { timings.push(`${name} ${((Date.now() - t0) / 1000).toFixed(0)} s`); console.log(`# stage ${timings.at(-1)}`); }
};
const fatRead = async (name: string) => (await exec('mtype', ['-i', `${img}${FAT}`, `::${name}`])).stdout;
const fatList = async () => (await exec('mdir', ['-b', '-i', `${img}${FAT}`, '::'])).stdout;

async function ssh(cmd: string): Promise<string> {
  const { stdout } = await exec('sshpass', ['-e', 'ssh', '-p', String(sshPort),
    '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
    '-o', 'PubkeyAuthentication=no', '-o', 'ConnectTimeout=20', `${maker.user}@127.0.0.1`, cmd],
  { env: { ...process.env, SSHPASS: maker.password }, timeout: 120_000 });
  return stdout;
}
const sudo = (cmd: string) =>
  ssh(`echo '${maker.password}' | sudo -S -p '' sh -c "$(echo ${Buffer.from(cmd).toString('base64')} | base64 -d)"`);

before(async () => {
  assert.ok(fs.existsSync(path.join(DIST, 'printbox-arm64.img')), 'dist/printbox-arm64.img missing — build the image first');
  await stage('copy the image, Imager 2.0.11.1 files onto its FAT', async () => {
    await exec('cp', ['--sparse=always', path.join(DIST, 'printbox-arm64.img'), img]);
    fs.truncateSync(img, fs.statSync(img).size + 1024 * 1024 * 1024); // a bigger card, as in boot.test.ts
    for (const f of ['firstrun.sh', 'cmdline.txt']) await exec('mcopy', ['-o', '-i', `${img}${FAT}`, path.join(FIXTURE, f), `::${f}`]);
    assert.equal(await fatRead('firstrun.sh'), fs.readFileSync(path.join(FIXTURE, 'firstrun.sh'), 'utf8'));
  });
  sshPort = await freePort();
  const log = path.join(tmp, 'console.log');
  vm = boot({ image: img, hostForwards: { [sshPort]: 22 }, guestForwards: [], consoleLog: log });
  const booted = () => (fs.existsSync(log) ? fs.readFileSync(log, 'latin1') : '').match(/PrintBox: kernel line .*/g) ?? [];
  try {
    await stage('boot 1: firstrun.sh under kernel-command-line.target, until its reboot', () =>
      waitFor('the reboot firstrun.sh asks for (U-Boot starts a second time)', 15 * 60_000, async () => (booted().length >= 2 ? true : undefined)));
    const [first, second] = booted();
    assert.match(first!, /systemd\.run=\/boot\/firstrun\.sh/, 'boot 1 ran with the systemd.run= line Imager wrote');
    assert.doesNotMatch(second!, /systemd\.run=/, 'boot 2 is a normal boot');
    await stage('boot 2: normal boot until the Imager account signs in over SSH', () =>
      waitFor('SSH login as the Imager account', 10 * 60_000, async () => ((await ssh('true')) === '' ? true : undefined)));
  } catch (e) {
    console.log(tail(log, 80));
    throw e;
  }
});

after(async () => {
  await vm?.stop();
  console.log(`# stage timings: ${timings.join('; ')}`);
  if (process.env.PRINTBOX_KEEP_TEST_IMAGE) console.log(`# kept ${tmp}`);
  else fs.rmSync(tmp, { recursive: true, force: true });
});

test('boot 1 removed firstrun.sh and the systemd.run arguments from the FAT; no secret left there', async () => {
  assert.doesNotMatch(await fatList(), /firstrun\.sh/i);
  assert.equal((await fatRead('cmdline.txt')).trim(), `${BASE_CMDLINE} cfg80211.ieee80211_regdom=DE`);
  const fat = await sudo(`cat /boot/firmware/*.txt /boot/firmware/*.sh 2>/dev/null; ls /boot/firmware`);
  for (const secret of [maker.hash, wifi.pmk]) assert.ok(!fat.includes(secret), 'a secret from firstrun.sh is still on the FAT');
});

test('the raw FAT partition, free clusters included, holds no copy of the password hash or the Wi-Fi key', async () => {
  const fd = fs.openSync(img, 'r');
  try {
    const fat = Buffer.alloc(256 * 1024 * 1024); // image/assemble.sh: 256 MiB at 4 MiB
    fs.readSync(fd, fat, 0, fat.length, 4 * 1024 * 1024);
    for (const secret of [maker.hash, wifi.pmk]) assert.equal(fat.indexOf(secret), -1, 'a secret from firstrun.sh survives in the FAT\'s clusters');
  } finally { fs.closeSync(fd); }
});

test('the Imager account is a PrintBox admin with its password (SSH worked) and sudo', async () => {
  const groups = (await ssh('id -nG')).trim().split(/\s+/);
  for (const g of ['printbox', 'printbox-admins', 'sudo']) assert.ok(groups.includes(g), `maker not in ${g}: ${groups.join(' ')}`);
  assert.equal((await sudo('id -un')).trim(), 'root');
  assert.equal((await ssh('getent passwd maker | cut -d: -f3')).trim(), '1000');
});

test('NetworkManager reads the hidden Wi-Fi with its SSID, PSK and the country', async () => {
  const fields = await sudo('nmcli -s -g 802-11-wireless.ssid,802-11-wireless.hidden,802-11-wireless-security.psk connection show printbox-wifi');
  assert.deepEqual(fields.trim().split('\n'), [wifi.ssid, 'yes', wifi.pmk]);
  assert.equal((await sudo('cat /etc/modprobe.d/printbox-wifi-country.conf')).trim(), 'options cfg80211 ieee80211_regdom=DE');
});

test('hostname, time zone and keyboard layout are set', async () => {
  assert.equal((await ssh('hostname')).trim(), 'pb-imager');
  assert.equal((await ssh('readlink /etc/localtime')).trim(), '/usr/share/zoneinfo/Europe/Berlin');
  assert.match(await ssh('date +%Z'), /^CES?T$/m);
  assert.match(await ssh('cat /etc/default/keyboard'), /^XKBLAYOUT="de"$/m);
});

test('the following normal boot still did the first-boot work: storage grown, own SSH host keys and machine-id', async () => {
  assert.equal(grownSizes(await ssh('df --output=size -B1 / /data | tail -2'), 1024), undefined);
  assert.match(await ssh('ls /etc/ssh'), /ssh_host_ed25519_key/);
  assert.match((await ssh('cat /etc/machine-id')).trim(), /^[0-9a-f]{32}$/);
});

test("printbox-init's journal repeats what boot 1 applied, without errors", async () => {
  const journal = await sudo('journalctl -b -u printbox-init.service --no-pager -o cat | grep "imager:"');
  console.log(journal.trim().replace(/^/gm, '# '));
  assert.match(journal, /userconf: account maker created/);
  assert.match(journal, /set_wlan: Wi-Fi "Café "Ø" Net" \(hidden\), country DE/);
  assert.doesNotMatch(journal, /error/i);
});
