/**
 * CONTRACT.md ("what users, scripts and tests outside the code rely on") walked item by item, so a
 * change that breaks it fails here and names the line it breaks. This file: "Processes and units",
 * "Configuration", "Commands" and the authentication/security lines of "HTTP API" against a real
 * stack (real PAM helper with a temporary system account, real web over HTTPS, requests from
 * 127.0.0.2 = another machine). Printers, files, jobs and the cloud: contract-printing.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import vm from 'node:vm';
import { after, before, describe, test } from 'node:test';
import { ALL_KNOWN_ENV, commonSchema, loadConfig, type Schema } from '../../services/shared/config.ts';
import { LinkStore } from '../../services/shared/link/store.ts';
import { printerSchema } from '../../services/printer/config.ts';
import { updaterSchema } from '../../services/updater/config.ts';
import { webSchema } from '../../services/web/config.ts';
import { assertError, assertShape, last, readUnit, words } from '../helpers/contract.ts';
import { REPO, startWeb, tempDir } from '../helpers/web.ts';
import { cookieOf, startStack, type Stack } from './security-stack.ts';

const src = (file: string) => fs.readFileSync(path.join(REPO, file), 'utf8');
const pkg = JSON.parse(src('package.json')) as { version: string; scripts: Record<string, string> };

describe('CONTRACT "Processes and units" (systemd/)', () => {
  test('printbox-web.service: user printbox; 80/443 via CAP_NET_BIND_SERVICE or a .socket; never opens serial ports, never reads /etc/shadow', () => {
    const u = readUnit('printbox-web.service');
    assert.equal(last(u, 'Service', 'User'), 'printbox');
    const socket = fs.existsSync(path.join(REPO, 'systemd/printbox-web.socket'));
    assert.ok(socket || words(u, 'Service', 'AmbientCapabilities').includes('CAP_NET_BIND_SERVICE'), 'low ports need a .socket or CAP_NET_BIND_SERVICE');
    assert.ok(last(u, 'Service', 'PrivateDevices') === 'yes' && last(u, 'Service', 'DevicePolicy') === 'closed', 'no device access at all');
    assert.deepEqual(words(u, 'Service', 'DeviceAllow'), []);
    const groups = [last(u, 'Service', 'Group'), ...words(u, 'Service', 'SupplementaryGroups')];
    for (const g of ['root', 'shadow', 'dialout']) assert.ok(!groups.includes(g), `web must not be in group ${g}`);
    assert.ok(!words(u, 'Service', 'CapabilityBoundingSet').some((c) => /DAC_|SETUID|SYS_ADMIN/.test(c)), 'no capability to read /etc/shadow');
  });

  test('printbox-auth.service + .socket: root, no network (AF_UNIX only), PAM service "printbox", answers on /run/printbox/auth.sock', () => {
    const u = readUnit('printbox-auth.service');
    assert.ok([undefined, 'root'].includes(last(u, 'Service', 'User')), 'runs as root');
    assert.deepEqual(words(u, 'Service', 'RestrictAddressFamilies'), ['AF_UNIX']);
    assert.equal(last(u, 'Service', 'PrivateNetwork'), 'yes');
    const s = readUnit('printbox-auth.socket');
    assert.deepEqual(s.Socket?.ListenStream, ['/run/printbox/auth.sock']);
    // PAM service name: the helper's default, the file installed as /etc/pam.d/printbox, never overridden by the unit
    assert.match(src('services/auth/main.ts'), /str\('PRINTBOX_PAM_SERVICE', 'printbox'/);
    assert.ok(fs.existsSync(path.join(REPO, 'services/auth/printbox.pam')));
    assert.match(src('image/assemble.sh'), /printbox\.pam" "\$rootfs\/etc\/pam\.d\/printbox"/);
    assert.ok(!(u.Service?.Environment ?? []).some((e) => e.includes('PRINTBOX_PAM_SERVICE')));
    assert.equal(commonSchema.runDir.default, '/run/printbox');
    assert.match(src('services/auth/main.ts'), /path\.join\(config\.runDir, 'auth\.sock'\)/);
  });

  test('printbox-printer.service: user printbox-printer, group dialout, API on /run/printbox/printer.sock', () => {
    const u = readUnit('printbox-printer.service');
    assert.equal(last(u, 'Service', 'User'), 'printbox-printer');
    assert.ok([last(u, 'Service', 'Group'), ...words(u, 'Service', 'SupplementaryGroups')].includes('dialout'), 'member of dialout');
    assert.match(src('services/printer/main.ts'), /path\.join\(config\.runDir, 'printer\.sock'\)/);
    assert.ok(words(u, 'Service', 'ReadWritePaths').includes('/run/printbox'));
  });

  test('printbox-update.service + .socket + .timer: user printbox-update, update.sock 0660 for printbox-ipc, started by the socket, the timer and the boot', () => {
    const u = readUnit('printbox-update.service');
    assert.equal(last(u, 'Service', 'User'), 'printbox-update');
    assert.ok(words(u, 'Unit', 'Requires').includes('printbox-update.socket'));
    assert.ok(words(u, 'Install', 'WantedBy').includes('printbox.target'), 'the boot starts it for the trial');
    const s = readUnit('printbox-update.socket');
    assert.deepEqual(s.Socket?.ListenStream, ['/run/printbox/update.sock']);
    assert.deepEqual([last(s, 'Socket', 'SocketUser'), last(s, 'Socket', 'SocketGroup'), last(s, 'Socket', 'SocketMode')], ['printbox-update', 'printbox-ipc', '0660']);
    assert.ok(last(readUnit('printbox-update.timer'), 'Timer', 'OnUnitInactiveSec'));
    assert.match(src('services/updater/main.ts'), /path\.join\(config\.runDir, 'update\.sock'\)/);
    assert.match(src('image/assemble.sh'), /printbox-update\.service printbox-update\.socket printbox-update\.timer/);
  });

  test('printbox-firstboot.service: root, oneshot; its marker lives in /var/lib/printbox', () => {
    const u = readUnit('printbox-firstboot.service');
    assert.ok([undefined, 'root'].includes(last(u, 'Service', 'User')));
    assert.equal(last(u, 'Service', 'Type'), 'oneshot');
    assert.equal(commonSchema.dataDir.default, '/var/lib/printbox');
    const dir = tempDir('contract-marker');
    try { assert.equal(path.dirname(new LinkStore(dir).markerPath), dir); } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  });

  test('printbox.target groups them', () => {
    const t = readUnit('printbox.target');
    const wants = words(t, 'Unit', 'Wants');
    for (const unit of ['printbox-web.service', 'printbox-printer.service', 'printbox-firstboot.service']) {
      assert.ok(wants.includes(unit), `printbox.target Wants ${unit}`);
      assert.ok(words(readUnit(unit), 'Install', 'WantedBy').includes('printbox.target'), `${unit} WantedBy printbox.target`);
    }
    assert.ok(wants.includes('printbox-auth.socket') || wants.includes('printbox-auth.service'), 'printbox.target pulls in the PAM helper');
    assert.ok(words(readUnit('printbox-auth.service'), 'Install', 'WantedBy').includes('printbox.target'));
  });

  test('uploads the web stores are readable by the printer service: the files directory is setgid printbox-ipc (tmpfiles.d)', () => {
    const conf = src('image/overlay/usr/lib/tmpfiles.d/printbox.conf');
    assert.match(conf, /^d \/var\/lib\/printbox\/files 2770 printbox printbox-ipc -$/m);
    assert.match(conf, /^Z \/var\/lib\/printbox\/files - - printbox-ipc -$/m);
    assert.equal(last(readUnit('printbox-web.service'), 'Service', 'Group'), 'printbox', 'the web stores files as group printbox without the setgid bit');
    assert.equal(last(readUnit('printbox-printer.service'), 'Service', 'Group'), 'printbox-ipc');
  });

  test('the image creates the users the units run as (sysusers.d)', () => {
    const conf = src('image/overlay/usr/lib/sysusers.d/printbox.conf');
    assert.match(conf, /^u printbox\s/m);
    assert.match(conf, /^u printbox-printer\s/m);
    assert.match(conf, /^m printbox-printer dialout$/m);
    assert.match(conf, /^u printbox-camera\s/m);
    assert.match(conf, /^m printbox\s+printbox-camera$/m);
  });

  test('printbox-camera@.service: user printbox-camera in video, no network, video devices only, its socket where the web looks; udev starts it for capture nodes; a settings change restarts it', () => {
    const u = readUnit('printbox-camera@.service');
    assert.equal(last(u, 'Service', 'User'), 'printbox-camera');
    assert.ok(words(u, 'Service', 'SupplementaryGroups').includes('video'));
    assert.equal(last(u, 'Service', 'PrivateNetwork'), 'yes');
    assert.deepEqual(words(u, 'Service', 'RestrictAddressFamilies'), ['AF_UNIX']);
    assert.equal(last(u, 'Service', 'DevicePolicy'), 'closed');
    assert.deepEqual(u.Service?.DeviceAllow, ['char-video4linux rw']);
    assert.ok(words(u, 'Unit', 'BindsTo').includes('dev-%i.device'), 'stops when the device goes');
    const exec = last(u, 'Service', 'ExecStart') ?? '';
    assert.match(exec, /^\/usr\/bin\/ustreamer --device=\/dev\/%i /);
    assert.ok(exec.includes(`--unix=${webSchema.cameraDir.default}/%i.sock`), `socket in PRINTBOX_CAMERA_DIR's default: ${exec}`);
    assert.ok(!/--(host|port)\b/.test(exec), 'no TCP listener');
    assert.ok(exec.endsWith('$PRINTBOX_CAMERA_ARGS'));
    assert.equal(last(u, 'Service', 'EnvironmentFile'), '-/var/lib/printbox/cameras/%i.env');
    const web = readUnit('printbox-web.service');
    assert.ok(words(web, 'Service', 'SupplementaryGroups').includes(last(u, 'Service', 'Group')!), 'the web may connect to the sockets');
    const p = readUnit('printbox-camera-settings@.path');
    assert.equal(last(p, 'Path', 'PathChanged'), '/var/lib/printbox/cameras/%i.env');
    assert.equal(last(p, 'Path', 'Unit'), 'printbox-camera-restart@%i.service');
    assert.equal(last(readUnit('printbox-camera-restart@.service'), 'Service', 'ExecStart'), '/usr/bin/systemctl try-restart printbox-camera@%i.service');
    const rule = src('image/overlay/etc/udev/rules.d/70-printbox-camera.rules');
    assert.match(rule, /^ACTION!="remove", SUBSYSTEM=="video4linux", ENV\{ID_V4L_CAPABILITIES\}=="\*:capture:\*", TAG\+="systemd", ENV\{SYSTEMD_WANTS\}\+="printbox-camera@%k\.service"$/m);
    assert.match(src('image/overlay/usr/lib/tmpfiles.d/printbox.conf'), /^d \/run\/printbox-camera 0750 printbox-camera printbox-camera -$/m);
  });

  test('device administration: the web unit turns it on, polkit grants the printbox user exactly its actions, avahi follows renames', () => {
    assert.ok((readUnit('printbox-web.service').Service?.Environment ?? []).includes('PRINTBOX_SYSTEM_ADMIN=true'));
    // the rule as polkitd runs it: duktape is ES5, so no let/const/arrow functions
    const rule = src('image/overlay/etc/polkit-1/rules.d/50-printbox.rules');
    assert.doesNotMatch(rule.replace(/\/\/.*$/gm, ''), /\b(let|const|class)\b|=>/);
    const rules: Array<(action: { id: string }, subject: { user: string }) => unknown> = [];
    vm.runInNewContext(rule, { polkit: { Result: { YES: 'yes', NOT_HANDLED: null }, addRule: (f: (typeof rules)[number]) => rules.push(f) } });
    assert.equal(rules.length, 1);
    const decide = (id: string, user: string) => rules[0]!({ id }, { user });
    const granted = ['org.freedesktop.NetworkManager.wifi.scan', 'org.freedesktop.NetworkManager.network-control', 'org.freedesktop.NetworkManager.settings.modify.system',
      'org.freedesktop.NetworkManager.wifi.share.open', 'org.freedesktop.hostname1.set-static-hostname', 'org.freedesktop.timedate1.set-timezone',
      'org.freedesktop.login1.reboot', 'org.freedesktop.login1.power-off'];
    for (const id of granted) {
      assert.equal(decide(id, 'printbox'), 'yes', id);
      assert.equal(decide(id, 'printbox-camera'), null, `${id} for another user`);
    }
    for (const id of ['org.freedesktop.login1.reboot-ignore-inhibit', 'org.freedesktop.systemd1.manage-units', 'org.freedesktop.NetworkManager.wifi.share.protected', 'org.freedesktop.hostname1.set-machine-info']) {
      assert.equal(decide(id, 'printbox'), null, `${id} is not granted`);
    }
    // the update service may restart the device, and nothing else
    assert.equal(decide('org.freedesktop.login1.reboot', 'printbox-update'), 'yes');
    for (const id of granted.filter((g) => g !== 'org.freedesktop.login1.reboot')) assert.equal(decide(id, 'printbox-update'), null, `${id} for the update service`);
    const p = readUnit('printbox-hostname.path');
    assert.equal(last(p, 'Path', 'PathChanged'), '/etc/hostname');
    assert.equal(last(readUnit('printbox-hostname.service'), 'Service', 'ExecStart'), '/usr/bin/systemctl try-restart avahi-daemon.service');
    assert.ok(words(readUnit('printbox.target'), 'Unit', 'Wants').includes('printbox-hostname.path'));
    const dns = src('image/overlay/etc/NetworkManager/dnsmasq-shared.d/printbox-portal.conf');
    assert.match(dns, /^address=\/#\/10\.42\.0\.1$/m);
    assert.match(dns, /^dhcp-option=114,http:\/\/10\.42\.0\.1\/setup$/m);
    assert.match(src('image/packages.txt'), /^polkitd$(.|\n)*^dnsmasq-base$/m);
  });
});

describe('CONTRACT "Configuration": every variable is accepted with the stated default', () => {
  // [variable, schema that reads it, field, contract default, a sample value, what it parses to]
  const vars: Array<[string, Schema, string, unknown, string, unknown]> = [
    ['PRINTBOX_HTTP_PORT', webSchema, 'httpPort', 80, '8080', 8080],
    ['PRINTBOX_HTTPS_PORT', webSchema, 'httpsPort', 443, '8443', 8443],
    ['PRINTBOX_DATA_DIR', commonSchema, 'dataDir', '/var/lib/printbox', '/srv/pb', '/srv/pb'],
    ['PRINTBOX_RUN_DIR', commonSchema, 'runDir', '/run/printbox', '/run/pb', '/run/pb'],
    ['PRINTBOX_CLOUD_URL', webSchema, 'cloudUrl', '', 'https://cloud.example', 'https://cloud.example'],
    ['PRINTBOX_PAM_GROUPS', webSchema, 'pamGroups', ['printbox'], 'printbox, makers', ['printbox', 'makers']],
    ['PRINTBOX_VIRTUAL_PRINTERS', printerSchema, 'virtualPrinters', 0, '2', 2],
    ['PRINTBOX_SERIAL_PORTS', printerSchema, 'serialPorts', [], '/dev/pts/7,/tmp/vp-*', ['/dev/pts/7', '/tmp/vp-*']],
    ['PRINTBOX_BAUDRATES', printerSchema, 'baudrates', [115200, 250000], '115200', [115200]],
    ['PRINTBOX_PROBE_TIMEOUT_MS', printerSchema, 'probeTimeoutMs', 10_000, '30000', 30_000],
    ['PRINTBOX_SYSTEM_ADMIN', webSchema, 'systemAdmin', false, 'true', true],
    ['PRINTBOX_HOTSPOT_AFTER_S', webSchema, 'hotspotAfterS', 120, '0', 0],
    ['PRINTBOX_HOTSPOT_RETRY_S', webSchema, 'hotspotRetryS', 300, '600', 600],
    ['PRINTBOX_UPDATE_ENGINE', updaterSchema, 'engine', 'none', 'rauc', 'rauc'],
    ['PRINTBOX_UPDATE_SERVER', updaterSchema, 'server', '', 'https://updates.example/printbox', 'https://updates.example/printbox'],
    ['PRINTBOX_UPDATE_CHECK_H', updaterSchema, 'checkH', 24, '0', 0],
    ['PRINTBOX_UPDATE_TRIAL_S', updaterSchema, 'trialS', 300, '600', 600],
    ['PRINTBOX_UPDATE_COMPATIBLE', updaterSchema, 'compatible', 'printbox-rpi-arm64', 'printbox-cm5', 'printbox-cm5'],
  ];
  for (const [name, schema, key, def, sample, parsed] of vars) {
    test(`${name} (default ${JSON.stringify(def)})`, () => {
      assert.ok(ALL_KNOWN_ENV.has(name), `${name} missing from ALL_KNOWN_ENV`);
      const field = schema[key];
      assert.equal(field?.env, name);
      assert.deepEqual(field.default, def);
      const { config, errors, warnings } = loadConfig(schema, { [name]: sample });
      assert.deepEqual([errors, warnings], [[], []]);
      assert.deepEqual((config as Record<string, unknown>)[key], parsed);
    });
  }

  test('PRINTBOX_BOOT_DIR (default /boot/firmware, read by printbox-firstboot)', () => {
    assert.ok(ALL_KNOWN_ENV.has('PRINTBOX_BOOT_DIR'));
    assert.match(src('services/linker/main.ts'), /str\('PRINTBOX_BOOT_DIR', '\/boot\/firmware'/);
  });

  test('PRINTBOX_VIRTUAL_PRINTERS: dev default 1 (npm start)', () => {
    assert.match(src('scripts/dev.ts'), /PRINTBOX_VIRTUAL_PRINTERS: '1'/);
  });

  test('all contract variables together: no "unknown setting" warning from any service', () => {
    const env = Object.fromEntries([...vars.map(([n, , , , s]) => [n, s]), ['PRINTBOX_BOOT_DIR', '/boot/firmware']]);
    for (const schema of [webSchema, printerSchema, commonSchema]) assert.deepEqual(loadConfig(schema, env).warnings, []);
    // control: a typo is reported
    assert.deepEqual(loadConfig(commonSchema, { PRINTBOX_HTTPS_PROT: '1' }).warnings, ['PRINTBOX_HTTPS_PROT: unknown setting, ignored']);
  });
});

describe('CONTRACT "Commands"', () => {
  test('package.json has start, test, test:image, image, bench — each runs an existing script', () => {
    for (const name of ['start', 'test', 'test:image', 'image', 'bench']) {
      const cmd = pkg.scripts[name];
      assert.ok(cmd, `npm run ${name} is missing`);
      const file = /^bash (\S+)$/.exec(cmd)?.[1];
      assert.ok(file && fs.existsSync(path.join(REPO, file)), `npm run ${name}: "${cmd}" does not name an existing script`);
    }
  });

  test('npm start: web on 8080/8443, virtual printer, offline mode, data under ./.printbox', () => {
    assert.match(pkg.scripts.start!, /scripts\/start\.sh/);
    assert.match(src('scripts/start.sh'), /scripts\/dev\.ts/);
    const dev = src('scripts/dev.ts');
    for (const re of [/PRINTBOX_HTTP_PORT: '8080'/, /PRINTBOX_HTTPS_PORT: '8443'/, /PRINTBOX_VIRTUAL_PRINTERS: '1'/, /path\.join\(ROOT, '\.printbox'\)/, /saveState\('offline'\)/]) assert.match(dev, re);
  });

  test('npm run image: printbox-arm64.img.xz + .sha256 + Imager os_list JSON', () => {
    const s = src('scripts/build-image.sh');
    for (const re of [/printbox-arm64\.img\.xz/, /\.sha256/, /os_list/]) assert.match(s, re);
  });

  test('the printbox command (installed as /usr/local/bin/printbox) has link and status', () => {
    assert.match(src('image/assemble.sh'), /\/usr\/local\/bin\/printbox/);
    const cli = (args: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, ['--import', 'tsx', 'services/cli/main.ts', ...args], {
      cwd: REPO, encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    });
    const help = cli(['--help']);
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stderr, /printbox link /);
    assert.match(help.stderr, /printbox status /);
    const dir = tempDir('contract-cli');
    try {
      const st = cli(['status', '--json'], { PRINTBOX_DATA_DIR: dir, PRINTBOX_RUN_DIR: dir });
      assert.equal(st.status, 0, st.stderr);
      assert.equal((JSON.parse(st.stdout) as { cloud: { state: string } }).cloud.state, 'unlinked');
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
    // `printbox link` against the reference cloud: contract-printing.test.ts
  });
});

describe('CONTRACT "HTTP API": health, login, session, local bypass, Host, Origin, API keys', () => {
  let stack: Stack;
  before(async () => { stack = await startStack({ userSpecs: [{ key: 'admin', role: 'admins' }] }); });
  after(async () => { await stack?.stop(); });

  test('GET /api/health → 200 {"ok": true, "version"} without auth', async () => {
    const r = await stack.req({ path: '/api/health' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { ok: true, version: pkg.version });
  });

  test('POST /api/auth/login → 200 {"user", "method": "pam"} + session cookie (Secure, HttpOnly, SameSite=Strict); GET /api/auth/session; logout → 204', async () => {
    const u = stack.users.admin!;
    const r = await stack.req({ path: '/api/auth/login', body: { username: u.name, password: u.password } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { user: u.name, method: 'pam' });
    const set = ([] as string[]).concat(r.headers['set-cookie'] ?? []).find((c) => c.startsWith('printbox.sid='));
    assert.ok(set, 'session cookie');
    const attrs = set.split(';').map((a) => a.trim().toLowerCase());
    for (const a of ['secure', 'httponly', 'samesite=strict']) assert.ok(attrs.includes(a), `cookie ${a}: ${set}`);
    const cookie = cookieOf(r)!;
    const s = await stack.req({ path: '/api/auth/session', cookie });
    assert.equal(s.status, 200, s.text);
    assert.deepEqual(s.json, { user: u.name, method: 'pam', role: 'admin' });
    const out = await stack.req({ path: '/api/auth/logout', body: {}, cookie });
    assert.equal(out.status, 204, out.text);
    assertError(await stack.req({ path: '/api/auth/session', cookie }), 401, 'GET /api/auth/session after logout');
  });

  test('401 wrong credentials, the same message for an unknown user', async () => {
    const u = stack.users.admin!;
    const wrong = await stack.req({ path: '/api/auth/login', body: { username: u.name, password: 'not-it' }, from: '127.0.0.6' });
    const unknown = await stack.req({ path: '/api/auth/login', body: { username: 'pbt_nobody_here', password: 'not-it' }, from: '127.0.0.6' });
    assertError(wrong, 401, 'login wrong password');
    assertError(unknown, 401, 'login unknown user');
    assert.deepEqual(wrong.json, unknown.json);
    assert.equal(wrong.headers['set-cookie'], undefined);
  });

  test('429 + Retry-After when throttled', async () => {
    const replies = await Promise.all(Array.from({ length: 14 }, () =>
      stack.req({ path: '/api/auth/login', body: { username: 'pbt_throttled', password: 'wrong' }, from: '127.0.0.7' })));
    const limited = replies.filter((r) => r.status === 429);
    assert.ok(limited.length > 0, `no 429 among ${replies.map((r) => r.status).join(',')}`);
    assertError(limited[0]!, 429, 'throttled login');
    assert.match(String(limited[0]!.headers['retry-after']), /^[1-9]\d*$/);
  });

  test('local = socket address 127.0.0.1 only; X-Forwarded-For / Host never grant it', async () => {
    const local = await stack.req({ path: '/api/auth/session', local: true });
    assert.equal(local.status, 200, local.text);
    assert.deepEqual(local.json, { user: 'local', method: 'local', role: 'admin' });
    const spoofed = await stack.req({ path: '/api/auth/session', from: '127.0.0.2', headers: { 'X-Forwarded-For': '127.0.0.1', Forwarded: 'for=127.0.0.1' } });
    assertError(spoofed, 401, 'X-Forwarded-For: 127.0.0.1 from 127.0.0.2');
    const host = await stack.req({ path: '/api/auth/session', from: '127.0.0.2', headers: { host: 'localhost' } });
    assertError(host, 401, 'Host: localhost from 127.0.0.2');
  });

  test('local also for socket address ::1 (a web bound to ::1); its plain-HTTP port refuses a foreign Host too', async () => {
    const base = tempDir('contract-v6');
    const web = await startWeb({ dataDir: path.join(base, 'data'), runDir: path.join(base, 'run'), env: { PRINTBOX_BIND: '::1' }, timeoutMs: 60_000 });
    try {
      const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        https.get({
          host: '::1', family: 6, port: web.httpsPort, path: '/api/auth/session', localAddress: '::1', ca: web.ca, agent: false,
          headers: { Host: `[::1]:${web.httpsPort}` }, servername: '', checkServerIdentity: (_h, cert) => tls.checkServerIdentity('127.0.0.1', cert),
        }, (res) => { let body = ''; res.on('data', (c: Buffer) => { body += c.toString(); }); res.on('end', () => resolve({ status: res.statusCode ?? 0, body })); }).on('error', reject);
      });
      assert.equal(r.status, 200, r.body);
      assert.deepEqual(JSON.parse(r.body), { user: 'local', method: 'local', role: 'admin' });
      const plain = (host: string) => new Promise<{ status: number; location?: string }>((resolve, reject) => {
        http.get({ host: '::1', family: 6, port: web.httpPort, path: '/api/health', agent: false, headers: { Host: host } }, (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0, location: res.headers.location });
        }).on('error', reject);
      });
      assert.equal((await plain('rebind.example')).status, 403, 'HTTP port, foreign Host');
      const redirect = await plain('[::1]');
      assert.equal(redirect.status, 301);
      assert.equal(redirect.location, `https://[::1]:${web.httpsPort}/api/health`);
    } finally {
      await web.stop();
      fs.rmSync(base, { recursive: true, force: true });
    }
  });

  test('a Host that is not the device name/IP/localhost is refused (DNS rebinding), even from the machine itself', async () => {
    assertError(await stack.req({ path: '/api/health', local: true, headers: { host: 'rebind.example' } }), 403, 'foreign Host', 'host_not_allowed');
    // the device's own addresses (whatever interfaces this machine has) are its "IP"
    const ips = Object.values(os.networkInterfaces()).flat().filter((a) => a && !a.internal && !a.address.startsWith('fe80'))
      .map((a) => (a!.family === 'IPv6' ? `[${a!.address}]` : a!.address));
    for (const host of ['localhost', '127.0.0.1', '[::1]', 'printbox-test', 'printbox-test.local', ...ips]) {
      assert.equal((await stack.req({ path: '/api/health', headers: { host: `${host}:${stack.port}` } })).status, 200, host);
    }
  });

  test('state-changing requests: JSON body only; a present Origin must be same-origin', async () => {
    const u = stack.users.admin!;
    const form = await stack.req({ path: '/api/auth/login', raw: `username=${u.name}&password=x`, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    assertError(form, 415, 'form-encoded login');
    const text = await stack.req({ path: '/api/apikeys', local: true, raw: JSON.stringify({ name: 'x', role: 'api' }), headers: { 'Content-Type': 'text/plain' } });
    assertError(text, 415, 'text/plain mutation');
    const cross = await stack.req({ path: '/api/apikeys', local: true, body: { name: 'x', role: 'api' }, headers: { Origin: 'https://evil.example' } });
    assertError(cross, 403, 'cross Origin', 'cross_origin');
    const same = await stack.req({ path: '/api/apikeys', local: true, body: { name: 'same-origin', role: 'api' }, headers: { Origin: `https://localhost:${stack.port}` } });
    assert.equal(same.status, 201, same.text);
  });

  test('API keys via Authorization: Bearer', async () => {
    const { key } = await stack.key({ role: 'api', name: 'contract' });
    const r = await stack.req({ path: '/api/auth/session', bearer: key });
    assert.equal(r.status, 200, r.text);
    assertShape(r.json, { user: 'string', method: 'string', role: 'string' }, 'GET /api/auth/session with a key');
    assert.deepEqual([(r.json as { method: string }).method, (r.json as { role: string }).role], ['apikey', 'api']);
    assertError(await stack.req({ path: '/api/auth/session', bearer: `${key.slice(0, -2)}xx` }), 401, 'a wrong key');
    assertError(await stack.req({ path: '/api/auth/session', headers: { Authorization: `Basic ${key}` } }), 401, 'a key with another scheme');
  });
});
