/**
 * printbox-firstboot as a real process (node --import tsx services/linker/main.ts) against the
 * reference cloud on loopback, with a fake root dir so the host's hostname/Wi-Fi/SSH stay untouched:
 * the sample boot dir, every bad-file case, retry until the cloud appears, and power cuts (kill -9).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCloud, type TestCloud } from '../helpers/cloud.ts';
import { cloudClientFactory } from '../../services/shared/cloud-client.ts';
import { createLogger } from '../../services/shared/log.ts';
import { CloudLink } from '../../services/shared/link/service.ts';
import { LinkStore } from '../../services/shared/link/store.ts';
import { runFirstboot } from '../../services/linker/firstboot.ts';

const REPO = path.resolve(import.meta.dirname, '../..');
const FIXTURES = path.join(REPO, 'test/fixtures/boot');
const OWNER = { email: 'owner@example.test', password: 's3cret pass word' };
let cloud: TestCloud;
let tmp: string;

interface Env { boot: string; data: string; root: string }
function freshEnv(fixture?: string): Env {
  const dir = fs.mkdtempSync(path.join(tmp, 'run-'));
  const env = { boot: path.join(dir, 'boot'), data: path.join(dir, 'data'), root: path.join(dir, 'root') };
  for (const d of Object.values(env)) fs.mkdirSync(d);
  if (fixture) fs.copyFileSync(path.join(FIXTURES, fixture, 'printbox.txt'), path.join(env.boot, 'printbox.txt'));
  return env;
}

function spawnLinker(e: Env, extra: string[] = []): ChildProcess & { out: () => string; done: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'services/linker/main.ts'), '--root', e.root,
    '--retry-base-ms', '100', '--retry-max-ms', '400', '--deadline-ms', '20000', ...extra], {
    cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, PRINTBOX_BOOT_DIR: e.boot, PRINTBOX_DATA_DIR: e.data, PRINTBOX_CLOUD_URL: cloud.url },
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
  const done = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return Object.assign(child, { out: () => out, done });
}

async function runLinker(e: Env, extra: string[] = []): Promise<{ code: number | null; out: string }> {
  const c = spawnLinker(e, extra);
  const code = await c.done;
  return { code, out: c.out() };
}

/**
 * The same wiring as services/linker/main.ts, in this process: the bad-file cases exercise parsing
 * and write-back, and each spawned `node --import tsx` costs seconds on a loaded machine.
 */
async function runInProcess(e: Env): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const log = createLogger({ scope: 'firstboot', write: (l) => lines.push(l) });
  const store = new LinkStore(e.data);
  const link = new CloudLink({
    store, log, cloud: cloudClientFactory({ defaultUrl: cloud.url, log, attempts: 1 }),
    device: () => ({ serial: 'pb-inproc', hostname: 'h', version: '0' }), activePrints: async () => ({ active: false, printers: [] }),
  });
  const r = await runFirstboot({ bootDir: e.boot, store, link, log, apply: { root: e.root }, retry: { baseMs: 100, maxMs: 400, deadlineMs: 20_000 } });
  return { code: r.result === 'error' ? 1 : 0, out: lines.join('\n') };
}

const bootText = (e: Env) => fs.readFileSync(path.join(e.boot, 'printbox.txt'), 'utf8');
const firstboot = (e: Env) => JSON.parse(fs.readFileSync(path.join(e.data, 'cloud/firstboot.json'), 'utf8')) as { result: string; error?: string };
const linkRec = (e: Env): { state: string; owner?: { email: string } } => {
  try { return JSON.parse(fs.readFileSync(path.join(e.data, 'cloud/link.json'), 'utf8')) as { state: string; owner?: { email: string } }; } catch { return { state: 'unlinked' }; }
};

before(async () => {
  cloud = await startCloud();
  cloud.addAccount(OWNER.email, OWNER.password);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-linker-'));
});
after(async () => {
  await cloud.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('sample boot dir (BOM, CRLF, quotes): applies settings, links, scrubs secrets, then is idempotent', async () => {
  const e = freshEnv('good');
  const { code, out } = await runLinker(e);
  assert.equal(code, 0, out);
  assert.equal(linkRec(e).state, 'linked');
  assert.equal(linkRec(e).owner?.email, OWNER.email);
  assert.equal(firstboot(e).result, 'linked');
  assert.equal(fs.readFileSync(path.join(e.root, 'etc/hostname'), 'utf8'), 'printbox-lab\n');
  assert.match(fs.readFileSync(path.join(e.root, 'etc/hosts'), 'utf8'), /^127\.0\.1\.1\tprintbox-lab$/m);
  const nm = path.join(e.root, 'etc/NetworkManager/system-connections/printbox-wifi.nmconnection');
  assert.match(fs.readFileSync(nm, 'utf8'), /ssid=Lab WiFi\n[\s\S]*psk=wifi-pass-123/);
  assert.equal(fs.statSync(nm).mode & 0o777, 0o600);
  assert.match(fs.readFileSync(path.join(e.root, 'etc/modprobe.d/printbox-wifi-country.conf'), 'utf8'), /regdom=DE/);
  assert.match(fs.readFileSync(path.join(e.root, 'root/.ssh/authorized_keys'), 'utf8'), /^ssh-ed25519 AAAA\S+ admin@laptop$/m);

  const text = bootText(e);
  assert.ok(!text.includes(OWNER.password) && !text.includes('wifi-pass-123'), text);
  assert.match(text, /^# printbox: \S+ OK: linked to the cloud as owner@example\.test; applied hostname printbox-lab/);
  assert.match(text, /# password = \(removed after use\)\r\n/);
  assert.match(text, /^email = "owner@example.test"\r$/m, 'non-secret lines kept as written, CRLF kept');
  assert.match(text, /warning: line 10: unknown key "favourite_colour" ignored/);
  assert.match(out, /unknown key "favourite_colour"/, 'warning in the journal');
  assert.ok(!out.includes(OWNER.password) && !out.includes('wifi-pass-123'), 'secrets never logged');
  assert.ok(fs.existsSync(path.join(e.data, 'firstboot.done')));

  let requests = 0;
  const count = () => { requests++; };
  cloud.store.on('request', count);
  try {
    const again = await runLinker(e);
    assert.equal(again.code, 0, again.out);
    assert.match(again.out, /unchanged since the last run/);
    assert.equal(requests, 0, 'a rerun does not contact the cloud');
    assert.equal(bootText(e), text);
  } finally { cloud.store.off('request', count); }
});

interface BadCase { name: string; setup: (boot: string) => void; code: number; error: RegExp; fileAfter?: RegExp; process?: boolean }
const BAD: BadCase[] = [
  { name: 'invalid email', setup: (b) => fs.copyFileSync(path.join(FIXTURES, 'bad-email/printbox.txt'), path.join(b, 'printbox.txt')),
    code: 1, error: /email "owner-at-example\.test" is not a valid email address/, fileAfter: /^# printbox: \S+ ERROR: email "owner-at-example\.test" is not a valid/ },
  { name: 'both password and token', setup: (b) => fs.copyFileSync(path.join(FIXTURES, 'both-secrets/printbox.txt'), path.join(b, 'printbox.txt')),
    code: 1, error: /either password or link_token, not both/, fileAfter: /ERROR: give either password or link_token, not both/ },
  { name: 'UTF-16', setup: (b) => fs.writeFileSync(path.join(b, 'printbox.txt'), Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`email = ${OWNER.email}\r\npassword = ${OWNER.password}\r\n`, 'utf16le')])),
    code: 1, error: /saved as UTF-16/, fileAfter: /ERROR: printbox\.txt is saved as UTF-16[^\n]*\r\nemail = owner@example\.test\r\n/ },
  { name: '1 MB of garbage', setup: (b) => fs.writeFileSync(path.join(b, 'printbox.txt'), Buffer.from(Array.from({ length: 1 << 20 }, (_, i) => (i * 7919 + 13) & 0xff))),
    code: 1, error: /1048576 bytes; at most 65536/, fileAfter: /ERROR: printbox\.txt is 1048576 bytes[\s\S]*moved to printbox\.txt\.invalid/, process: true },
  { name: '200 bytes of binary', setup: (b) => fs.writeFileSync(path.join(b, 'printbox.txt'), Buffer.from(Array.from({ length: 200 }, (_, i) => 0x80 + (i % 60)))),
    code: 1, error: /not a text file/, fileAfter: /ERROR: printbox\.txt is not a text file/ },
  { name: 'missing file', setup: () => undefined, code: 0, error: /no printbox\.txt in/, process: true },
];

for (const c of BAD) {
  test(`bad boot file: ${c.name} → clear error in journal, API record and the file; no crash`, async () => {
    const e = freshEnv();
    c.setup(e.boot);
    const { code, out } = c.process ? await runLinker(e) : await runInProcess(e);
    assert.equal(code, c.code, out);
    assert.match(out, c.error);
    assert.doesNotMatch(out, /\n\s+at /, 'no stack trace');
    const fb = firstboot(e);
    assert.equal(fb.result, c.name === 'missing file' ? 'missing' : 'error');
    assert.match(fb.error ?? '', c.error);
    assert.equal(linkRec(e).state === 'linked', false);
    if (c.fileAfter) assert.match(bootText(e), c.fileAfter);
    if (c.name === '1 MB of garbage') assert.equal(fs.statSync(path.join(e.boot, 'printbox.txt.invalid')).size, 1 << 20, 'original kept aside');
    if (c.name === 'UTF-16') {
      // The rewrite converted it to UTF-8; after "checking it and rebooting" it links.
      const second = await runInProcess(e);
      assert.equal(second.code, 0, second.out);
      assert.equal(linkRec(e).state, 'linked');
      assert.ok(!bootText(e).includes(OWNER.password));
    }
  });
}

test('wrong password: error written back, the used-up password removed', async () => {
  const e = freshEnv();
  fs.writeFileSync(path.join(e.boot, 'printbox.txt'), `email = ${OWNER.email}\npassword = not-the-password\n`);
  const { code, out } = await runInProcess(e);
  assert.equal(code, 1, out);
  assert.match(bootText(e), /ERROR: linking failed: Wrong email or password/);
  assert.ok(!bootText(e).includes('not-the-password'));
  assert.match(out, /linking failed: Wrong email or password/);
  assert.ok(!out.includes('not-the-password'), 'never logged');
});

test('cloud unreachable at boot: retries with backoff, reports pending, links once the cloud appears', async () => {
  const e = freshEnv('good');
  await cloud.stop();
  const child = spawnLinker(e);
  try {
    const deadline = Date.now() + 15_000;
    while (!fs.existsSync(path.join(e.data, 'cloud/firstboot.json')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(firstboot(e).result, 'pending');
    assert.match(firstboot(e).error ?? '', /waiting for the cloud/);
  } finally { await cloud.start(); }
  assert.equal(await child.done, 0, child.out());
  assert.equal(linkRec(e).state, 'linked');
  assert.match(child.out(), /waiting for the cloud \(attempt 1\)/);
});

test('cloud unreachable past the deadline: error, secrets kept for the next boot', async () => {
  const e = freshEnv('good');
  await cloud.stop();
  try {
    const { code, out } = await runLinker(e, ['--deadline-ms', '300']);
    assert.equal(code, 1, out);
    assert.match(bootText(e), /ERROR: linking failed: The cloud at 127\.0\.0\.1:\d+ is not reachable.*will try again at the next boot/);
    assert.match(bootText(e), /^password = "s3cret pass word"\r$/m);
    assert.equal(fs.existsSync(path.join(e.data, 'firstboot.done')), false);
  } finally { await cloud.start(); }
});

test('power cut: kill -9 while the cloud commits a link-token link; the rerun completes and scrubs the token', async () => {
  const e = freshEnv();
  const acc = cloud.store.authenticate(OWNER.email, OWNER.password);
  const token = cloud.store.createLinkToken(acc.id);
  fs.writeFileSync(path.join(e.boot, 'printbox.txt'), `# power cut test\nlink_token = ${token}\nhostname = pb-powercut\n`);
  cloud.store.linkDelayMs = 3000;
  const child = spawnLinker(e);
  try {
    await new Promise<void>((resolve) => cloud.store.once('linked', () => resolve()));
    child.kill('SIGKILL');
    await child.done;
  } finally { cloud.store.linkDelayMs = 0; }
  assert.ok(bootText(e).includes(token), 'killed before the rewrite');
  assert.notEqual(linkRec(e).state, 'linked');

  const { code, out } = await runLinker(e);
  assert.equal(code, 0, out);
  assert.equal(linkRec(e).state, 'linked');
  assert.ok(!bootText(e).includes(token), 'token gone from the file');
  assert.equal(cloud.store.devicesOf(OWNER.email).filter((d) => d.hostname).length >= 1, true);
  assert.deepEqual(fs.readdirSync(e.boot).filter((f) => f.includes('.tmp-')), [], 'no temp files left');
});

test('power cut right after the cloud commits, at several offsets, always converges', async () => {
  const e = freshEnv('good');
  // Offsets after the cloud committed the link: they land in saving the token, rewriting the file, writing the marker.
  for (const ms of [0, 60]) {
    const child = spawnLinker(e);
    await Promise.race([new Promise<void>((resolve) => cloud.store.once('linked', () => resolve())), child.done]);
    await new Promise((r) => setTimeout(r, ms));
    child.kill('SIGKILL');
    await child.done;
    cloud.store.removeAllListeners('linked');
    // Whatever the moment, the file is either the original or the finished rewrite — never torn.
    const t = bootText(e);
    assert.ok(t.includes(OWNER.password) || /^# printbox: \S+ OK/.test(t), t);
  }
  const { code, out } = await runLinker(e);
  assert.equal(code, 0, out);
  assert.equal(linkRec(e).state, 'linked');
  assert.ok(!bootText(e).includes(OWNER.password));
  assert.match(bootText(e), /^# printbox: \S+ OK: linked to the cloud as owner@example\.test/);
  assert.equal(cloud.store.devicesOf(OWNER.email).filter((d) => d.serial !== 'pb-inproc').length, 1, 'one device record, however often it re-linked');
});

test('offline = yes and a settings-only file: no cloud contact, results offline / applied', async () => {
  let requests = 0;
  const count = () => { requests++; };
  cloud.store.on('request', count);
  try {
    const e = freshEnv();
    fs.writeFileSync(path.join(e.boot, 'printbox.txt'), 'offline = yes\nhostname = "pb-offline"\n');
    assert.equal((await runInProcess(e)).code, 0);
    assert.deepEqual([linkRec(e).state, firstboot(e).result], ['offline', 'offline']);
    assert.match(bootText(e), /^# printbox: \S+ OK: offline mode \(no cloud\); applied hostname pb-offline\n/);
    const s = freshEnv();
    fs.writeFileSync(path.join(s.boot, 'printbox.txt'), 'wifi_ssid = Home\nwifi_password = 12345678\n');
    assert.equal((await runInProcess(s)).code, 0);
    assert.equal(firstboot(s).result, 'applied');
    assert.match(bootText(s), /^# printbox: \S+ OK: applied Wi-Fi "Home"; secret values removed\nwifi_ssid = Home\n# wifi_password = \(removed after use\)\n$/);
    assert.equal(requests, 0);
  } finally { cloud.store.off('request', count); }
});

test('a second run while one is linking leaves it alone; a killed run\'s lock does not block the next', async () => {
  const e = freshEnv('good');
  cloud.store.linkDelayMs = 15_000; // the first run stays in the middle of linking while the second starts
  const first = spawnLinker(e);
  try {
    await new Promise<void>((resolve) => cloud.store.once('linked', () => resolve()));
    const second = await runLinker(e);
    assert.equal(second.code, 0, second.out);
    assert.match(second.out, /another printbox-firstboot is running \(pid \d+\)/);
    first.kill('SIGKILL');
    await first.done;
  } finally { cloud.store.linkDelayMs = 0; }
  assert.ok(fs.existsSync(path.join(e.data, 'firstboot.lock')), 'kill -9 leaves the lock behind');
  const third = await runLinker(e);
  assert.equal(third.code, 0, third.out);
  assert.equal(linkRec(e).state, 'linked');
  assert.equal(fs.existsSync(path.join(e.data, 'firstboot.lock')), false, 'released at exit');
});

test('a rerun after the Wi-Fi password was scrubbed keeps the Wi-Fi set up (no switch to an open network)', async () => {
  const e = freshEnv();
  const file = path.join(e.boot, 'printbox.txt');
  fs.writeFileSync(file, `wifi_ssid = Home\nwifi_password = home-wifi-pw\nemail = ${OWNER.email}\npassword = typo-password\n`);
  assert.equal((await runInProcess(e)).code, 1, 'wrong cloud password');
  const nm = path.join(e.root, 'etc/NetworkManager/system-connections/printbox-wifi.nmconnection');
  assert.match(fs.readFileSync(nm, 'utf8'), /psk=home-wifi-pw/);
  assert.ok(!bootText(e).includes('home-wifi-pw'), 'applied Wi-Fi password scrubbed even though linking failed');
  // The user fixes the cloud password and reboots.
  fs.writeFileSync(file, bootText(e).replace('# password = (removed after use)', `password = ${OWNER.password}`));
  const second = await runInProcess(e);
  assert.equal(second.code, 0, second.out);
  assert.match(fs.readFileSync(nm, 'utf8'), /psk=home-wifi-pw/, 'still the secured network');
  assert.equal(linkRec(e).state, 'linked');
});
