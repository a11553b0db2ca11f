/**
 * A/B updates on the booted image, with real bundles and real power cuts. The device runs version N (the
 * build); the bundles are made here from the build's own root file system (dist/printbox-arm64.rootfs.ext4)
 * with only a version changed, signed by image/bundle.sh: N+1, a broken N+2 whose web never starts, and three
 * that must be refused. The reference update server (services/update-server/publish.ts) serves them on the
 * guest's 10.0.2.101:80. A print on the guest's USB printer (usb-printer.ts) holds one update back.
 * boot.test.ts registers these after the other checks and before the power-off.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import semver from 'semver';
import { publishChannel } from '../../services/update-server/publish.ts';
import { exec, guestRequest, readFromExt4, waitFor, writeIntoExt4, type Guest } from './qemu.ts';

export interface UpdateRig {
  /** host port the guest reaches as http://10.0.2.101 (known once the boot has started) */
  serverPort: () => number;
  dist: string;
  tmp: string;
  /** the version the image was built as (N) */
  version: string;
}

const ROOT = path.resolve(import.meta.dirname, '../..');
const KEYS = path.join(ROOT, 'test/fixtures/update-keys');

/** One signed bundle of a copy of the build's root with `files` replaced; KEY_DIR-style keys if given. */
async function bundle(rig: UpdateRig, name: string, version: string, opts: { files?: Record<string, string>; keys?: string; compatible?: string; tiny?: boolean } = {}): Promise<string> {
  const dir = path.join(rig.tmp, 'bundles');
  fs.mkdirSync(dir, { recursive: true });
  const rootfs = path.join(dir, `${name}.ext4`);
  if (opts.tiny) {
    // refused before anything is written: a small root is enough and quick to sign
    await exec('mke2fs', ['-q', '-t', 'ext4', '-L', 'PBROOT', rootfs, '8M']);
  } else {
    await exec('cp', ['--sparse=always', '--reflink=auto', path.join(rig.dist, 'printbox-arm64.rootfs.ext4'), rootfs]);
    const pkg = JSON.parse(await readFromExt4(rootfs, '/opt/printbox/package.json')) as { version: string };
    const json = JSON.stringify({ ...pkg, version }, null, 2) + '\n';
    await writeIntoExt4(rootfs, { '/opt/printbox/package.json': json, '/opt/printbox/build/package.json': json, ...opts.files }, dir);
  }
  const out = path.join(dir, `${name}.raucb`);
  const t0 = Date.now();
  await exec('bash', [path.join(ROOT, 'image/bundle.sh'), rootfs, version, out, ...(opts.keys ? [opts.keys] : [])], {
    env: { ...process.env, PRINTBOX_BUNDLE_MKSQUASHFS_ARGS: '-comp lz4', ...(opts.compatible ? { PRINTBOX_UPDATE_COMPATIBLE: opts.compatible } : {}) },
    maxBuffer: 1 << 24,
  });
  fs.rmSync(rootfs);
  console.log(`# bundle ${name} (${version}): ${(fs.statSync(out).size / 1e6).toFixed(0)} MB in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return out;
}

/** Builds every bundle: stable/ (N+1, indexed), broken/ and refused/ (fetched by URL); returns the served directory. */
async function prepare(rig: UpdateRig): Promise<string> {
  const n1 = semver.inc(rig.version, 'patch')!;
  const n2 = semver.inc(n1, 'patch')!;
  const web = path.join(rig.tmp, 'updates');
  for (const d of ['stable', 'broken', 'refused']) fs.mkdirSync(path.join(web, d), { recursive: true });
  const good = await bundle(rig, `printbox-${n1}-arm64`, n1);
  fs.renameSync(good, path.join(web, 'stable', path.basename(good)));
  const broken = await bundle(rig, `printbox-${n2}-arm64`, n2, {
    files: { '/opt/printbox/build/services/web/main.js': "console.error('printbox-web: broken on purpose by the update test');\nprocess.exit(3);\n" },
  });
  fs.renameSync(broken, path.join(web, 'broken', path.basename(broken)));
  // another CA's signer, in the KEY_DIR layout image/bundle.sh reads
  const other = path.join(rig.tmp, 'other-keys');
  fs.mkdirSync(other, { recursive: true });
  for (const [from, to] of [['other-signer.cert.pem', 'signer.cert.pem'], ['other-signer.key.pem', 'signer.key.pem'], ['other-ca.cert.pem', 'ca.cert.pem']]) {
    fs.copyFileSync(path.join(KEYS, from!), path.join(other, to!));
  }
  for (const [name, out] of [
    ['other-ca', await bundle(rig, 'other-ca', n1, { tiny: true, keys: other })],
    ['x86', await bundle(rig, 'x86', n1, { tiny: true, compatible: 'printbox-pc-x86_64' })],
  ] as const) fs.renameSync(out, path.join(web, 'refused', `${name}.raucb`));
  // cut short, as a download that stopped half way (a small bundle: RAUC refuses it before reading further)
  const whole = fs.readFileSync(await bundle(rig, 'whole', n1, { tiny: true }));
  fs.writeFileSync(path.join(web, 'refused', 'truncated.raucb'), whole.subarray(0, Math.floor(whole.length / 2)));
  await publishChannel({ channel: 'stable', dir: path.join(web, 'stable'), keyring: path.join(KEYS, 'dev-ca.cert.pem') });
  return web;
}

/** Every path the guest asked the update server for, in order. */
const requested: string[] = [];

/** The reference server's job for the test: static files on the port the guest's 10.0.2.101:80 leads to. */
async function serve(web: string, port: number): Promise<void> {
  const server = http.createServer((req, res) => {
    requested.push(req.url ?? '');
    const file = path.join(web, path.normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    if (!file.startsWith(web) || !fs.existsSync(file) || !fs.statSync(file).isFile()) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-length': fs.statSync(file).size });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  server.unref();
}

interface Status { phase: string; waitingFor?: string[]; current: { version: string }; available: { version: string } | null; progress?: { percent: number; message: string };
  error?: { code: string; message: string }; last?: { outcome: string; from: string; to: string; message: string }; pending?: unknown;
  slots?: { booted: string; slots: Array<{ bootname: string; booted: boolean; primary: boolean; health: string; version?: string }> } }

/**
 * Polls `fn` every 2 s until it returns a value; unlike waitFor, an error thrown by `fn` ends the wait at once
 * (an update that stopped with an error will not finish by waiting longer).
 */
async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    const v = await fn();
    if (v !== undefined) { console.log(`# ${what}: after ${((Date.now() - t0) / 1000).toFixed(0)} s`); return v; }
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
}

export function updateChecks(g: Guest, rig: UpdateRig): void {
  // Bundles are made while the guest boots and the other checks run.
  const ready = prepare(rig);
  ready.catch(() => {});
  const url = (p: string) => `https://127.0.0.1:${g.httpsPort()}${p}`;
  const api = async (method: string, p: string, cookie: string, body?: unknown) => {
    const r = await guestRequest(url(p), { method, cookie, body, timeoutMs: 60_000 });
    return { status: r.status, body: JSON.parse(r.body || 'null') as Status, text: r.body };
  };
  const n1 = semver.inc(rig.version, 'patch')!;
  const n2 = semver.inc(n1, 'patch')!;
  let cookie = '';
  /** The boots U-Boot made so far: the slot of each, from boot.scr's line on the console. */
  const boots = () => [...g.console().matchAll(/PrintBox: booting slot (\w)/g)].map((m) => m[1]!);
  let said = '';
  /** GET /api/updates; each new phase or step is printed, so a slow install shows where it is. */
  const status = async () => {
    const s = (await api('GET', '/api/updates', cookie)).body;
    const line = `${s.phase}${s.progress ? ` ${s.progress.percent} % ${s.progress.message}` : ''}${s.error ? ` (error: ${s.error.message})` : ''}`;
    if (line !== said) { said = line; console.log(`# ${new Date().toISOString().slice(11, 19)} update: ${line}`); }
    return s;
  };
  /** What must survive every update, as one comparable text. */
  const identity = () => g.sudo([
    'getent passwd | awk -F: \'$3 >= 1000 && $3 < 60000 {print $1, $3, $6}\'', 'getent shadow ' + g.admin.user + ' | cut -d: -f2',
    'cat /etc/machine-id /etc/hostname', 'ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub',
    'ls /etc/NetworkManager/system-connections', 'ls /var/lib/printbox', 'cat /etc/printbox/printbox.env',
    // the PAM helper's stamp key: a new one would end every signed-in session a minute after the update
    'sha256sum /var/lib/printbox-auth/auth.key',
  ].join('; ')).then((t) => t.trim());
  /** Waits until the device is back after a restart: SSH, then the web with the old session. */
  const back = async (what: string) => {
    await waitFor(`${what}: SSH`, 10 * 60_000, async () => ((await g.ssh('true')) === '' ? true : undefined));
    await waitFor(`${what}: the web signed in with the session from before`, 5 * 60_000, async () => ((await api('GET', '/api/updates', cookie)).status === 200 ? true : undefined));
  };
  let before = '';
  /**
   * Starts a print of about 2 minutes on the USB printer (QEMU's usb-serial, usb-printer.ts): uploaded through the
   * web like a browser does, dwell moves so it takes the same time however fast the emulation runs.
   */
  const startPrint = async () => {
    const printer = await waitFor('the USB printer ready on the device', 3 * 60_000, async () => {
      const list = (await api('GET', '/api/printers', cookie)).body as unknown as Array<{ id: string; name: string; state: string; port: string }>;
      return list.find((p) => p.state === 'idle' && /ttyUSB|usb-/.test(p.port));
    });
    const gcode = ['G28', ...Array.from({ length: 120 }, (_, i) => `G4 P1000\nG1 X${i + 1} Y${i + 1} F3000`), 'M400', ''].join('\n');
    const boundary = `----printbox${Date.now()}`;
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="update-wait.gcode"\r\ncontent-type: text/x-gcode\r\n\r\n`),
      Buffer.from(gcode), Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const up = await guestRequest(url('/api/files'), { method: 'POST', cookie, body, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, timeoutMs: 60_000 });
    assert.equal(up.status, 201, up.body);
    const start = await api('POST', `/api/printers/${encodeURIComponent(printer.id)}/job`, cookie, { file: 'update-wait.gcode' });
    assert.equal(start.status, 202, start.text);
    await waitFor('the print running', 60_000, async () =>
      ((await api('GET', `/api/printers/${encodeURIComponent(printer.id)}`, cookie)).body as unknown as { state: string }).state === 'printing' ? true : undefined);
    console.log(`# printing update-wait.gcode on ${printer.name} (${printer.port})`);
    return printer;
  };

  test('updates: bundles signed by another CA, for another board, or cut short are refused by printbox update apply, with the reason; nothing changes', async () => {
    await serve(await ready, rig.serverPort());
    cookie = await g.login();
    await g.sudo("nmcli connection add type wifi ifname '*' con-name pb-update-test ssid PBUpdateTest wifi-sec.key-mgmt wpa-psk wifi-sec.psk 'update-test-psk' >/dev/null");
    before = await identity();
    const slots = await g.sudo('cat /boot/firmware/pbslot.txt; rauc status --output-format=json');
    for (const [name, reason] of [['other-ca', /not signed by a key this device trusts/], ['x86', /printbox-pc-x86_64/], ['truncated', /not a complete, usable update bundle|not signed by a key this device trusts/]] as const) {
      const out = await g.sudo(`printbox update apply http://10.0.2.101/refused/${name}.raucb 2>&1; echo "exit $?"`);
      console.log(`# ${name}: ${out.trim().split('\n').slice(-2).join(' | ')}`);
      assert.match(out, /exit 1\s*$/, out);
      assert.match(out, reason, out);
    }
    assert.equal(await g.sudo('cat /boot/firmware/pbslot.txt; rauc status --output-format=json'), slots, 'the slots and the boot state are untouched');
    assert.equal((await status()).current.version, rig.version);
  });

  test('updates: N → N+1 from the channel through the web API; a power cut while RAUC writes the slot leaves N running from A', async () => {
    const check = await api('POST', '/api/updates/check', cookie);
    assert.equal(check.status, 200, check.text);
    assert.equal(check.body.available?.version, n1, check.text);
    const apply = await api('POST', '/api/updates/apply', cookie, {});
    assert.equal(apply.status, 202, apply.text);
    await until('RAUC writing the slot', 15 * 60_000, async () => {
      const s = await status();
      if (s.error) throw new Error(`the update stopped: ${s.error.message}`);
      return s.phase === 'installing' && /Copying image/i.test(s.progress?.message ?? '') ? true : undefined;
    });
    const bootsBefore = boots().length;
    await new Promise((r) => setTimeout(r, 5000));
    await g.powerCut();
    await back('after the power cut during the install');
    assert.deepEqual(boots().slice(bootsBefore), ['A'], 'U-Boot started A again');
    const s = await until('the cut-off install reported', 3 * 60_000, async () => { const st = await status(); return st.last ? st : undefined; });
    assert.equal(s.last?.outcome, 'interrupted', JSON.stringify(s.last));
    assert.match(s.last!.message, new RegExp(`Installing ${n1.replace(/\./g, '\\.')} was cut off.*${rig.version.replace(/\./g, '\\.')} runs as before`));
    assert.equal(s.current.version, rig.version);
    assert.equal(s.slots?.booted, 'A');
    assert.equal(s.phase, 'idle');
    assert.equal(await identity(), before);
  });

  test('updates: asked for during a print on the USB printer, the update waits for the print to end; the downloaded bundle is reused and N+1 starts from B; a power cut in its first boot, and B is still kept with every account, key, profile and file', async () => {
    // the check from before the power cut is still offered: the update service keeps it across its exits and restarts
    assert.equal((await status()).available?.version, n1);
    const printer = await startPrint();
    // an API key, the cloud link and the print history must come through the update as they are
    const made = await api('POST', '/api/apikeys', cookie, { name: 'update-test', role: 'viewer' });
    assert.equal(made.status, 201, made.text);
    const key = (made.body as unknown as { key: string }).key;
    const cloudBefore = (await api('GET', '/api/cloud', cookie)).body as unknown as { state: string };
    assert.equal(cloudBefore.state, 'linked', 'the first boot linked the device');
    const apply = await api('POST', '/api/updates/apply', cookie, { version: n1 });
    assert.equal(apply.status, 202, apply.text);
    const asked = requested.length;
    // while the print runs the update only waits, naming the printer; nothing is written
    await until('the update waiting for the print', 3 * 60_000, async () => {
      const s = await status();
      if (s.error) throw new Error(`the update stopped: ${s.error.message}`);
      return s.phase === 'waiting' ? s : undefined;
    });
    let waited = 0;
    for (;;) {
      const p = (await api('GET', `/api/printers/${encodeURIComponent(printer.id)}`, cookie)).body as unknown as { state: string };
      const s = await status();
      if (p.state !== 'printing') break;
      assert.equal(s.phase, 'waiting', `the update went on while ${printer.name} printed: ${JSON.stringify(s)}`);
      assert.deepEqual(s.waitingFor, [printer.name || printer.id]);
      waited++;
      await new Promise((r) => setTimeout(r, 3000));
    }
    const job = (await api('GET', `/api/printers/${encodeURIComponent(printer.id)}/job`, cookie)).body as unknown as { state?: string; job?: { state?: string } };
    console.log(`# the update waited through ${waited} polls of the print; the job ended ${JSON.stringify(job).slice(0, 120)}`);
    assert.ok(waited >= 5, 'the print ended before the update was seen waiting for it');
    // the print added its file, its history and perhaps a timelapse: what the update must keep is taken now
    before = await identity();
    const bootsBefore = boots().length;
    await until('the restart into the new version', 20 * 60_000, async () => {
      // the web goes away with the restart: no answer is no error here
      const s = await status().catch(() => undefined);
      if (s?.error) throw new Error(`the update stopped: ${s.error.message}`);
      return boots().length > bootsBefore ? true : undefined;
    });
    assert.deepEqual(requested.slice(asked).filter((p) => p.endsWith('.raucb')), [], 'the complete bundle from before the power cut was fetched again');
    assert.equal(boots().at(-1), 'B');
    // into the trial boot: the kernel runs, the new version is not up yet
    await waitFor('the new kernel starting', 3 * 60_000, async () => (/Booting Linux[^]*$/.test(g.console().slice(g.console().lastIndexOf('booting slot B'))) ? true : undefined));
    await new Promise((r) => setTimeout(r, 15_000));
    const cutAt = boots().length;
    await g.powerCut();
    await back('after the power cut in the trial boot');
    assert.deepEqual(boots().slice(cutAt), ['B'], 'U-Boot gave B another try');
    const s = await waitFor('the trial kept', 5 * 60_000, async () => { const st = await status(); return st.last?.outcome === 'installed' && !st.pending ? st : undefined; });
    assert.equal(s.current.version, n1);
    assert.equal(s.slots?.booted, 'B');
    const a = s.slots?.slots.find((x) => x.bootname === 'A');
    assert.equal(a?.version, rig.version, 'the status names what a rollback would start');
    assert.equal(await identity(), before);
    assert.match(await g.sudo('nmcli -s -g 802-11-wireless-security.psk connection show pb-update-test'), /update-test-psk/);
    const byKey = await guestRequest(url('/api/updates'), { headers: { authorization: `Bearer ${key}` } });
    assert.equal(byKey.status, 200, `the API key made before the update: ${byKey.body}`);
    assert.equal(((await api('GET', '/api/cloud', cookie)).body as unknown as { state: string }).state, 'linked');
    const files = (await api('GET', '/api/files', cookie)).body as unknown as Array<{ name: string }>;
    assert.ok(files.some((f) => f.name === 'update-wait.gcode'), 'the uploaded file');
    const jobs = (await api('GET', '/api/jobs', cookie)).body as unknown as Array<{ file: string; state: string }>;
    assert.equal(jobs.find((j) => j.file === 'update-wait.gcode')?.state, 'done', 'the print in the history');
    console.log(`# boots so far: ${boots().join(' ')}`);
  });

  test('updates: printbox update apply of a version whose web never starts; a power cut once it is written and chosen, before the restart; its trial fails, N+1 starts again from its slot and the web says it was rolled back', async () => {
    const bootsBefore = boots().length;
    const out = await g.sudo(`printbox update apply http://10.0.2.101/broken/printbox-${n2}-arm64.raucb --detach 2>&1; echo "exit $?"`);
    assert.match(out, /exit 0\s*$/, out);
    const running = boots().at(-1)!;
    const other = running === 'A' ? 'B' : 'A';
    // the third point of a power cut: RAUC has written the slot and made it the next boot's, the update service
    // has recorded the switch, and the device has not restarted yet (or is just going down to do so)
    const point = await until('the broken version written and chosen', 20 * 60_000, async () => {
      const s = await status().catch(() => undefined);
      if (s?.error) throw new Error(`the update stopped: ${s.error.message}`);
      if (boots().length > bootsBefore) return 'after U-Boot had started the new slot';
      if (s?.phase === 'rebooting') return 'while the device went down for its restart';
      return (s?.pending as { written?: boolean } | undefined)?.written ? 'after the switch was recorded, before the restart' : undefined;
    });
    console.log(`# power cut ${point}`);
    await g.powerCut();
    await waitFor(`the broken version in ${other}, then ${running} again`, 25 * 60_000, async () => (boots().slice(bootsBefore).join(' ').endsWith(`${other} ${running}`) ? true : undefined));
    await back('after the rollback');
    const s = await waitFor('the rollback reported', 5 * 60_000, async () => { const st = await status(); return st.last?.outcome === 'rolled_back' ? st : undefined; });
    console.log(`# ${s.last!.message}`);
    assert.equal(s.current.version, n1);
    assert.equal(s.last!.to, n2);
    assert.equal(s.slots?.booted, running);
    assert.equal(await identity(), before);
    console.log(`# boots: ${boots().join(' ')}`);
  });
}
