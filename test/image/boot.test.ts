/**
 * `npm run test:image`: boots dist/printbox-arm64.img under QEMU with a test
 * printbox.txt on its FAT partition that points at the reference cloud running here, then checks the
 * appliance from the host only through forwarded ports. scripts/test-image.sh builds the image first.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { CloudStore } from '../../services/cloud/store.ts';
import { createCloudServer } from '../../services/cloud/server.ts';
import { createLogger } from '../../services/shared/log.ts';
import { adminChecks, powerOffCheck } from './admin-checks.ts';
import { onboardChecks } from './onboard-checks.ts';
import { cameraChecks } from './camera-checks.ts';
import { updateChecks } from './update-checks.ts';
import { attachUsbPrinter, type UsbPrinter } from './usb-printer.ts';
import { boot, exec, freePort, grownSizes, guestRequest, readFromExt4, tail, waitFor, writeIntoExt4, type Guest, type VirtVm } from './qemu.ts';

const DIST = path.resolve(import.meta.dirname, '../../dist');
const BOOT_OFFSET = 4 * 1024 * 1024; // image/assemble.sh: FAT32 boot partition at 4 MiB
const MIB = 1024 * 1024;
// the card is this much larger than the image: the data partition grows into it and holds the test's bundles
const CARD_SPARE_MIB = 2048;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'printbox-image-test-'));
const admin = { user: 'tester', password: `pb-${crypto.randomBytes(9).toString('base64url')}` };
const owner = { email: 'owner@printbox.test', password: `cloud-${crypto.randomBytes(9).toString('base64url')}` };
// The account Raspberry Pi Imager would write as userconf.txt ("user:crypted-password").
const imager = { user: 'imageruser', password: `im-${crypto.randomBytes(9).toString('base64url')}` };
const other = { user: 'outsider', password: `ou-${crypto.randomBytes(9).toString('base64url')}` };
const ports = { https: 0, http: 0, ssh: 0, cloud: 0, updates: 0 };
const store = new CloudStore();
const cloudApp = createCloudServer({ store, log: createLogger({ scope: 'cloud', level: 'warn' }) });
let cloud: https.Server;
const consoleLog = path.join(tmp, 'console.log');
/** QEMU's USB serial adapter; the Marlin simulator answers there (usb-printer.ts) */
const usbSerial = path.join(tmp, 'usb-printer.sock');
let usbPrinter: UsbPrinter | undefined;
let vm: VirtVm | undefined;

const api = (p: string) => `https://127.0.0.1:${ports.https}${p}`;

/** Runs a command on the guest over SSH as the first-boot admin (password login, as a user would). */
async function ssh(cmd: string, opts: { user?: string; password?: string } = {}): Promise<string> {
  const { stdout } = await exec('sshpass', ['-e', 'ssh', '-p', String(ports.ssh),
    '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
    '-o', 'PubkeyAuthentication=no', '-o', 'ConnectTimeout=20',
    `${opts.user ?? admin.user}@127.0.0.1`, cmd], { env: { ...process.env, SSHPASS: opts.password ?? admin.password }, timeout: 120_000 });
  return stdout;
}
/** Runs cmd as root on the guest; base64 keeps any quoting in cmd intact through the remote shell. */
const sudo = (cmd: string) =>
  ssh(`echo '${admin.password}' | sudo -S -p '' sh -c "$(echo ${Buffer.from(cmd).toString('base64')} | base64 -d)"`);

/** A self-signed CA-capable certificate for the cloud's guest-side address. */
async function cloudCertificate(): Promise<{ key: string; cert: string }> {
  const key = path.join(tmp, 'cloud.key');
  const cert = path.join(tmp, 'cloud.pem');
  await exec('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', '/CN=printbox test cloud', '-addext', 'subjectAltName=IP:10.0.2.100', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-keyout', key, '-out', cert]);
  return { key: fs.readFileSync(key, 'utf8'), cert: fs.readFileSync(cert, 'utf8') };
}

/**
 * Writes /etc/printbox/printbox.env (PRINTBOX_CLOUD_CA) and the CA into the image's ext4 root with
 * debugfs — the site-override file the units read — by copying the partition out and back (no loop mounts).
 */
async function injectCloudCa(img: string, caPem: string): Promise<void> {
  const table = JSON.parse((await exec('sfdisk', ['-J', img])).stdout) as { partitiontable: { partitions: Array<{ start: number; size: number }> } };
  const rootPart = table.partitiontable.partitions[1]!;
  const part = path.join(tmp, 'root.ext4');
  const dd = (args: string[]) => exec('dd', ['bs=1M', 'status=none', 'conv=notrunc', ...args]);
  const startMiB = (rootPart.start * 512) / MIB;
  await dd([`if=${img}`, `of=${part}`, `skip=${startMiB}`, `count=${(rootPart.size * 512) / MIB}`]);
  await writeIntoExt4(part, {
    // the update server of update-checks.ts, and the shortest trial a new version gets
    '/etc/printbox/printbox.env': ['PRINTBOX_CLOUD_CA=/etc/printbox/test-cloud-ca.pem', 'PRINTBOX_UPDATE_SERVER=http://10.0.2.101',
      'PRINTBOX_UPDATE_TRIAL_S=60', ''].join('\n'),
    '/etc/printbox/test-cloud-ca.pem': caPem,
  }, tmp);
  assert.match(await readFromExt4(part, '/etc/printbox/printbox.env'), /PRINTBOX_CLOUD_CA/);
  await dd([`if=${part}`, `of=${img}`, `seek=${startMiB}`]);
  fs.rmSync(part);
}

before(async () => {
  for (const f of ['printbox-arm64.img', 'printbox-arm64.rootfs.ext4']) {
    assert.ok(fs.existsSync(path.join(DIST, f)), `dist/${f} missing — run scripts/test-image.sh (it builds the image)`);
  }
  ports.https = await freePort(); ports.http = await freePort(); ports.ssh = await freePort(); ports.updates = await freePort();
  store.addAccount(owner.email, owner.password);
  // The device insists on an https:// cloud (services/linker/parse.ts), so the reference cloud gets a
  // certificate for the guest-side address 10.0.2.100, trusted through PRINTBOX_CLOUD_CA.
  const tls = await cloudCertificate();
  cloud = https.createServer(tls, (req, res) => { cloudApp.emit('request', req, res); });
  await new Promise<void>((r) => cloud.listen(0, '127.0.0.1', r));
  ports.cloud = (cloud.address() as { port: number }).port;

  // A copy of the image, grown like a bigger SD card, with the test printbox.txt on its FAT.
  const img = path.join(tmp, 'test.img');
  console.log('# copying the image');
  await exec('cp', ['--sparse=always', path.join(DIST, 'printbox-arm64.img'), img]);
  await injectCloudCa(img, tls.cert);
  fs.truncateSync(img, fs.statSync(img).size + CARD_SPARE_MIB * MIB);
  const cfg = path.join(tmp, 'printbox.txt');
  fs.writeFileSync(cfg, [
    '\uFEFF# written by test/image/boot.test.ts', // BOM and CRLF as a Windows editor would leave them
    `admin_user = ${admin.user}`,
    `admin_password = "${admin.password}"`,
    'cloud_url = https://10.0.2.100',
    `email = ${owner.email}`,
    `password = ${owner.password}`,
    '',
  ].join('\r\n'));
  await exec('mcopy', ['-o', '-i', `${img}@@${BOOT_OFFSET}`, cfg, '::printbox.txt']);
  const crypted = (await exec('openssl', ['passwd', '-6', imager.password])).stdout.trim();
  const userconf = path.join(tmp, 'userconf.txt');
  fs.writeFileSync(userconf, `${imager.user}:${crypted}\n`);
  await exec('mcopy', ['-o', '-i', `${img}@@${BOOT_OFFSET}`, userconf, '::userconf.txt']);

  console.log(`# booting (console: ${consoleLog})`);
  vm = boot({
    image: img,
    hostForwards: { [ports.https]: 443, [ports.http]: 80, [ports.ssh]: 22 },
    guestForwards: [{ guestIp: '10.0.2.100', guestPort: 443, hostPort: ports.cloud },
      { guestIp: '10.0.2.101', guestPort: 80, hostPort: ports.updates }],
    consoleLog,
    usbSerialSocket: usbSerial,
  });
  usbPrinter = attachUsbPrinter(usbSerial);
  vm.proc.once('exit', (code) => console.log(`# qemu exited (${code})`));
  try {
    await waitFor('SSH login with the first-boot account', 8 * 60_000, async () => (await ssh('true')) === '' ? true : undefined);
    await waitFor('HTTPS /api/health', 5 * 60_000, async () => (await guestRequest(api('/api/health'))).status === 200 ? true : undefined);
  } catch (e) {
    console.log(tail(consoleLog));
    throw e;
  }
});

after(async () => {
  await vm?.stop();
  usbPrinter?.close();
  await new Promise((r) => cloud.close(r));
  if (process.env.PRINTBOX_KEEP_TEST_IMAGE) console.log(`# kept ${tmp}`);
  else fs.rmSync(tmp, { recursive: true, force: true });
});

test('HTTPS answers on the forwarded 443 with the health document', async () => {
  const res = await guestRequest(api('/api/health'));
  assert.equal(res.status, 200);
  assert.equal(JSON.parse(res.body).ok, true);
});

test('plain HTTP redirects to HTTPS', async () => {
  const res = await guestRequest(`http://127.0.0.1:${ports.http}/`);
  assert.ok([301, 302, 307, 308].includes(res.status), `status ${res.status}`);
  assert.match(String(res.headers.location), /^https:\/\//);
});

test('PAM login works with the first-boot admin account; a non-group account is refused', async () => {
  const ok = await guestRequest(api('/api/auth/login'), { method: 'POST', body: { username: admin.user, password: admin.password } });
  assert.equal(ok.status, 200, ok.body);
  assert.equal(JSON.parse(ok.body).method, 'pam');
  await sudo(`id ${other.user} >/dev/null 2>&1 || useradd -m ${other.user}; echo ${other.user}:${other.password} | chpasswd`);
  const refused = await guestRequest(api('/api/auth/login'), { method: 'POST', body: { username: other.user, password: other.password } });
  assert.equal(refused.status, 401, refused.body);
  const wrong = await guestRequest(api('/api/auth/login'), { method: 'POST', body: { username: admin.user, password: 'wrong-password' } });
  assert.equal(wrong.status, 401);
});

test("Raspberry Pi Imager's userconf.txt: that account signs in over HTTPS (PAM) and the file is consumed", async () => {
  const res = await guestRequest(api('/api/auth/login'), { method: 'POST', body: { username: imager.user, password: imager.password } });
  assert.equal(res.status, 200, res.body);
  assert.equal(JSON.parse(res.body).method, 'pam');
  assert.equal(await sudo('test -e /boot/firmware/userconf.txt && echo present || echo gone'), 'gone\n');
});

test('the device is linked to the cloud owner and the secrets are gone from printbox.txt', async () => {
  const devices = await waitFor('cloud link', 5 * 60_000, async () => {
    const d = store.devicesOf(owner.email);
    return d.length ? d : undefined;
  });
  assert.equal(devices.length, 1);
  const login = await guestRequest(api('/api/auth/login'), { method: 'POST', body: { username: admin.user, password: admin.password } });
  const cookie = String(login.headers['set-cookie']?.[0] ?? '').split(';')[0]!;
  const state = await waitFor('GET /api/cloud linked', 60_000, async () => {
    const res = await guestRequest(api('/api/cloud'), { cookie });
    const body = JSON.parse(res.body) as { state: string; owner?: unknown };
    return body.state === 'linked' ? body : undefined;
  });
  assert.match(JSON.stringify(state.owner), /owner@printbox\.test/);
  const txt = await sudo('cat /boot/firmware/printbox.txt');
  assert.ok(!txt.includes(owner.password), 'cloud password still in printbox.txt');
  assert.ok(!txt.includes(admin.password), 'admin password still in printbox.txt');
  assert.match(txt, /email/);
});

test('SSH login works and every PrintBox unit is active', async () => {
  assert.equal((await ssh('id -un')).trim(), admin.user);
  const units = ['printbox.target', 'printbox-init.service', 'printbox-web.service', 'printbox-auth.socket',
    'printbox-printer.service', 'printbox-firstboot.service'];
  const out = await ssh(`systemctl is-active ${units.join(' ')} || true`);
  assert.deepEqual(out.trim().split('\n'), units.map(() => 'active'), `${units.join(' ')}:\n${out}`);
  // printbox-auth.service is socket-activated and exits 0 after PRINTBOX_AUTH_IDLE_EXIT_S (60 s) without
  // connections: running, or stopped cleanly (Result=success) while its socket listens — never failed.
  const auth = await ssh('systemctl show -p ActiveState -p Result printbox-auth.service');
  const state = /^ActiveState=(\S+)$/m.exec(auth)?.[1];
  const result = /^Result=(\S+)$/m.exec(auth)?.[1];
  assert.ok(state === 'active' || (state === 'inactive' && result === 'success'), `printbox-auth.service: ${auth}`);
});

test('systemd-analyze security on the device: exposure ≤ 2.5 for printbox-web and printbox-printer', async () => {
  for (const unit of ['printbox-web.service', 'printbox-printer.service']) {
    const out = await sudo(`systemd-analyze security --no-pager ${unit} | tail -1`);
    const level = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(out)?.[1]);
    console.log(`# ${unit}: exposure ${level}`);
    assert.ok(level > 0 && level <= 2.5, out);
  }
});

test('first boot: root grown to its slot and data to the card, fresh identity, no modem/braille daemons', async () => {
  assert.equal(grownSizes(await ssh('df --output=size -B1 / /data | tail -2'), CARD_SPARE_MIB), undefined);
  assert.match((await ssh('cat /etc/machine-id')).trim(), /^[0-9a-f]{32}$/);
  assert.match(await ssh('ls /etc/ssh'), /ssh_host_ed25519_key/);
  assert.match(await sudo('cat /etc/issue.d/50-printbox.issue'), /([0-9A-F]{2}:){31}[0-9A-F]{2}/);
  assert.doesNotMatch(await ssh("dpkg-query -W -f='${Package} ${Status}\\n' modemmanager brltty 2>/dev/null || true"), /ok installed/);
});

test('idle RSS of the PrintBox services and the compressed image size', async () => {
  await new Promise((r) => setTimeout(r, 20_000)); // let start-up garbage be collected
  // Idle means idle: the socket-activated printbox-auth and printbox-update have exited after their idle
  // period (60 s without connections, and for updates nothing running) and count 0 until a request starts
  // them again — that is what a device at rest holds.
  await waitFor('printbox-auth and printbox-update idle exit', 4 * 60_000, async () =>
    (await ssh('systemctl is-active printbox-auth.service printbox-update.service || true')).trim() === 'inactive\ninactive' ? true : undefined);
  const services = ['printbox-web', 'printbox-auth', 'printbox-printer', 'printbox-update'];
  // RSS counts the shared libnode pages once per process; PSS splits them, so both are shown.
  const out = await sudo(`for s in ${services.join(' ')}; do p=$(systemctl show -p MainPID --value $s); ` +
    'if [ "$p" = 0 ]; then echo "$s 0 0"; continue; fi; ' +
    'echo "$s $(awk \'/^VmRSS/ {print $2}\' /proc/$p/status) $(awk \'/^Pss:/ {print $2}\' /proc/$p/smaps_rollup)"; done');
  let rss = 0;
  let pss = 0;
  for (const line of out.trim().split('\n')) {
    const [name, rssKiB, pssKiB] = line.split(/\s+/);
    rss += Number(rssKiB) / 1024;
    pss += Number(pssKiB) / 1024;
    const note = Number(rssKiB) === 0 ? ' (exited after its idle period; socket-activated on demand)' : '';
    console.log(`# idle ${name}: RSS ${(Number(rssKiB) / 1024).toFixed(1)} MiB, PSS ${(Number(pssKiB) / 1024).toFixed(1)} MiB${note}`);
  }
  console.log(`# idle total: RSS ${rss.toFixed(1)} MiB, PSS ${pss.toFixed(1)} MiB (target ≤ 150 MiB)`);
  const xz = path.join(DIST, 'printbox-arm64.img.xz');
  if (fs.existsSync(xz)) {
    const size = fs.statSync(xz).size;
    console.log(`# compressed image: ${(size / 1e6).toFixed(1)} MB (target ≤ 400 MB)`);
    assert.ok(size <= 400e6, 'image .xz above 400 MB');
  }
  assert.ok(rss > 0 && rss <= 150, `idle RSS together ${rss.toFixed(1)} MiB > 150 MiB`);
});

test('after their idle exit, printbox-update answers the next request and printbox-auth the next sign-in', async () => {
  // exited cleanly (Result=success), so no restart; the socket starts it and it still knows its last check
  const upd = await ssh('systemctl show -p ActiveState -p Result printbox-update.service');
  assert.match(upd, /ActiveState=inactive/); assert.match(upd, /Result=success/);
  const st = await sudo('printbox update status --json');
  const s = JSON.parse(st) as { phase: string; lastCheck: string | null; error?: unknown };
  assert.equal(s.phase, 'idle', st);
  assert.ok(s.lastCheck || s.error, `the boot's check (its answer or its failure) outlives the exit:\n${st}`);
  assert.equal((await ssh('systemctl is-active printbox-update.service printbox-update.socket printbox-update.timer || true')).trim(), 'active\nactive\nactive');
  assert.equal((await ssh('systemctl is-active printbox-auth.service || true')).trim(), 'inactive');
  const ok = await guestRequest(api('/api/auth/login'), { method: 'POST', body: { username: admin.user, password: admin.password } });
  assert.equal(ok.status, 200, ok.body);
  assert.equal(JSON.parse(ok.body).method, 'pam');
  assert.equal((await ssh('systemctl is-active printbox-auth.service printbox-auth.socket || true')).trim(), 'active\nactive');
});

test('printbox-printer and printbox-web restart cleanly at the first attempt; each keeps its own database', async () => {
  // The first-boot linker runs as root and hands what it wrote to the web; printer.db must stay the printer's.
  const owners = async () => (await sudo('stat -c "%n %U %a" /var/lib/printbox/printer.db /var/lib/printbox/printbox.db')).trim();
  assert.match(await owners(), /printer\.db printbox-printer \d+\n.*printbox\.db printbox \d+/);
  const restarts = async () => (await ssh('systemctl show -p NRestarts --value printbox-printer printbox-web')).trim().split('\n').map(Number);
  const before = await restarts();
  await sudo('systemctl restart printbox-printer printbox-web');
  assert.equal((await ssh('systemctl is-active printbox-printer printbox-web || true')).trim(), 'active\nactive');
  assert.deepEqual(await restarts(), before, 'no automatic restart after a failed start');
  await waitFor('HTTPS /api/health after the restart', 2 * 60_000, async () => {
    try { return (await guestRequest(api('/api/health'))).status === 200 ? true : undefined; } catch { return undefined; }
  });
  assert.match(await owners(), /printer\.db printbox-printer/);
});

const guest: Guest = {
  ssh: (cmd) => ssh(cmd),
  sudo,
  httpsPort: () => ports.https,
  admin,
  login: async () => {
    const res = await guestRequest(api('/api/auth/login'), { method: 'POST', body: { username: admin.user, password: admin.password } });
    assert.equal(res.status, 200, res.body);
    return String(res.headers['set-cookie']?.[0] ?? '').split(';')[0]!;
  },
  exited: () => new Promise<void>((resolve) => {
    const p = vm!.proc;
    if (p.exitCode !== null || p.signalCode !== null) resolve(); else p.once('exit', () => resolve());
  }),
  powerCut: () => vm!.powerCut(),
  console: () => (fs.existsSync(consoleLog) ? fs.readFileSync(consoleLog, 'latin1') : ''),
};
cameraChecks(guest);
adminChecks(guest);
// after the administration checks, which expect no Wi-Fi radio yet
onboardChecks(guest);
// updates restart the guest several times, on its data partition
updateChecks(guest, { serverPort: () => ports.updates, dist: DIST, tmp, version: JSON.parse(fs.readFileSync(path.resolve(DIST, '../package.json'), 'utf8')).version });
// last: the guest powers off
powerOffCheck(guest);
