/**
 * Raspberry Pi Imager's "systemd" OS customisation on PrintBox, run on the host in a throwaway root.
 * The fixtures under test/fixtures/imager/<version>/ are byte-exact transcriptions of what that Imager
 * release writes to the FAT (firstrun.sh, and cmdline.txt after its append) — see the README there.
 * Each fixture goes through the image's /boot/firstrun.sh (image/overlay/boot/firstrun.sh) with its
 * absolute tool paths pointed at wrappers that run services/linker/imager-main.ts --root <temp root>;
 * bad input (truncated, CRLF, odd SSIDs, PSK lengths, unknown country) is checked per command.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createLogger } from '../../services/shared/log.ts';
import { runImagerCommand, runTool, PENDING_KEYS, type ImagerDeps } from '../../services/linker/imager.ts';

const exec = promisify(execFile);
const REPO = path.resolve(import.meta.dirname, '../..');
const SHIM = path.join(REPO, 'image/overlay/boot/firstrun.sh');
const FIXTURES = path.join(REPO, 'test/fixtures/imager');
const BASE_CMDLINE = 'console=tty0 root=PARTUUID=5072426f-02 rootfstype=ext4 fsck.repair=yes net.ifnames=0 cma=64M rootwait';
const NM = 'etc/NetworkManager/system-connections/printbox-wifi.nmconnection';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'printbox-imager-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A minimal Debian-like root: the accounts and groups of the image, tzdata, an ssh unit to enable. */
function makeRoot(name: string): string {
  const root = path.join(tmp, name);
  const w = (p: string, s: string, mode = 0o644) => { fs.mkdirSync(path.dirname(path.join(root, p)), { recursive: true }); fs.writeFileSync(path.join(root, p), s, { mode }); };
  w('etc/passwd', 'root:x:0:0:root:/root:/bin/bash\nprintbox:x:999:999:PrintBox web:/var/lib/printbox:/usr/sbin/nologin\n');
  w('etc/group', 'root:x:0:\nsudo:x:27:\nprintbox:x:999:\nprintbox-admins:x:998:\nprintbox-ipc:x:997:printbox\n');
  w('etc/shadow', 'root:*:20000:0:99999:7:::\nprintbox:!*:20000::::::\n', 0o640);
  w('etc/gshadow', 'root:*::\nsudo:*::\nprintbox:!::\nprintbox-admins:!::\nprintbox-ipc:!::printbox\n', 0o640);
  w('etc/login.defs', fs.readFileSync('/etc/login.defs', 'utf8'));
  w('etc/hostname', 'printbox\n');
  w('etc/hosts', '127.0.0.1\tlocalhost\n127.0.1.1\tprintbox\n::1\t\tlocalhost ip6-localhost ip6-loopback\n');
  w('usr/lib/systemd/system/ssh.service', '[Service]\nExecStart=/usr/sbin/sshd -D\n[Install]\nWantedBy=multi-user.target\n');
  w('usr/share/zoneinfo/iso3166.tab', 'DE\tGermany\nGB\tBritain (UK)\nUS\tUnited States\n');
  for (const z of ['Europe/Berlin', 'Europe/London']) w(`usr/share/zoneinfo/${z}`, `TZif fake ${z}\n`);
  fs.mkdirSync(path.join(root, 'home'));
  return root;
}

interface Run { root: string; boot: string; log: string }

/** Writes Imager's two files to a temp FAT and runs the image's /boot/firstrun.sh against a temp root. */
async function firstrun(name: string, files: { firstrun?: Buffer; cmdline: Buffer }): Promise<Run> {
  const root = makeRoot(name);
  const boot = path.join(tmp, `${name}-boot`);
  const bin = path.join(tmp, `${name}-bin`);
  fs.mkdirSync(boot); fs.mkdirSync(bin);
  for (const tool of ['imager_custom', 'userconf']) {
    fs.writeFileSync(path.join(bin, tool), `#!/bin/sh\nexec "${process.execPath}" --import tsx "${REPO}/services/linker/imager-main.ts" --root "${root}" ${tool} "$@"\n`, { mode: 0o755 });
  }
  if (files.firstrun) {
    // Only the tools' absolute paths move (to the wrappers above); every other byte is Imager's.
    const script = files.firstrun.toString('latin1')
      .replaceAll('/usr/lib/raspberrypi-sys-mods/imager_custom', `${bin}/imager_custom`)
      .replaceAll('/usr/lib/userconf-pi/userconf', `${bin}/userconf`);
    fs.writeFileSync(path.join(boot, 'firstrun.sh'), Buffer.from(script, 'latin1'), { mode: 0o755 });
  }
  fs.writeFileSync(path.join(boot, 'cmdline.txt'), files.cmdline);
  const { stdout } = await exec('sh', [SHIM], { cwd: REPO, env: { ...process.env, PRINTBOX_BOOT_DIR: boot, PRINTBOX_ROOT: root, TMPDIR: tmp }, timeout: 120_000 });
  const log = fs.readFileSync(path.join(root, 'var/log/printbox-imager.log'), 'utf8');
  assert.equal(stdout, log, 'the console shows what the log keeps');
  return { root, boot, log };
}

const fixture = (version: string, file: string) => fs.readFileSync(path.join(FIXTURES, version, file));
const read = (root: string, p: string) => fs.readFileSync(path.join(root, p), 'utf8');
const line = (file: string, start: string) => file.split('\n').find((l) => l.startsWith(start));

/** Nothing from Imager's script that is secret may stay on the FAT or reach the log. */
function assertNoSecrets(r: Run, secrets: string[]): void {
  for (const f of fs.readdirSync(r.boot)) {
    const text = fs.readFileSync(path.join(r.boot, f), 'utf8');
    for (const s of secrets) assert.ok(!text.includes(s), `${f} on the FAT still holds a secret`);
  }
  for (const s of secrets) assert.ok(!r.log.includes(s), 'the log holds a secret');
  assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.startsWith('printbox-firstrun.')), [], 'the temp copy of firstrun.sh was left behind');
}

function assertAdmin(root: string, user: string, hash: string): void {
  const pw = line(read(root, 'etc/passwd'), `${user}:`)!.split(':');
  assert.equal(pw[2], '1000');
  assert.equal(pw[5], `/home/${user}`);
  assert.equal(pw[6], '/bin/bash');
  for (const g of ['printbox', 'printbox-admins', 'sudo']) {
    assert.ok(line(read(root, 'etc/group'), `${g}:`)!.split(':')[3]!.split(',').includes(user), `${user} not in ${g}`);
  }
  assert.equal(line(read(root, 'etc/shadow'), `${user}:`)!.split(':')[1], hash);
}

describe('Imager 1.9.6 (src/OptionsPopup.qml, src/downloadthread.cpp): firstrun.sh with public keys', () => {
  const hash = '$5$abcdefghij$0WTh45OnOJ9EG/avegOeIzk3t9LHDyH.BXCW9xANqKC';
  const pmk = line(fixture('1.9.6', 'firstrun.sh').toString(), '   /usr/lib/raspberrypi-sys-mods/imager_custom set_wlan')!.split("'")[3]!;
  let r: Run;
  before(async () => { r = await firstrun('v196', { firstrun: fixture('1.9.6', 'firstrun.sh'), cmdline: fixture('1.9.6', 'cmdline.txt') }); });

  test('firstrun.sh is gone and cmdline.txt keeps the regulatory domain but no systemd.run', () => {
    assert.ok(!fs.existsSync(path.join(r.boot, 'firstrun.sh')));
    assert.equal(read(r.boot, 'cmdline.txt'), `${BASE_CMDLINE} cfg80211.ieee80211_regdom=GB`);
    assertNoSecrets(r, [hash, pmk]);
  });
  test('hostname, account (uid 1000, admin groups, sha256crypt hash), keys for that account, key-only sshd', () => {
    assert.equal(read(r.root, 'etc/hostname'), 'workshop-pi\n');
    assert.match(read(r.root, 'etc/hosts'), /^127\.0\.1\.1\tworkshop-pi$/m);
    assertAdmin(r.root, 'maker', hash);
    const keys = path.join(r.root, 'home/maker/.ssh/authorized_keys');
    assert.deepEqual(read(r.root, 'home/maker/.ssh/authorized_keys').trim().split('\n').map((k) => k.split(' ')[2]), ['maker@laptop', 'maker@phone']);
    assert.equal(fs.statSync(keys).mode & 0o777, 0o600);
    assert.equal(fs.statSync(keys).uid, 1000);
    assert.ok(!fs.existsSync(path.join(r.root, PENDING_KEYS)), 'pending keys not handed to the account');
    assert.match(read(r.root, 'etc/ssh/sshd_config.d/imager-key-only.conf'), /^PasswordAuthentication no$/m);
    assert.equal(fs.readlinkSync(path.join(r.root, 'etc/systemd/system/multi-user.target.wants/ssh.service')), '/usr/lib/systemd/system/ssh.service');
  });
  test('Wi-Fi as the PrintBox NetworkManager profile (0600) with the PSK Imager derived, country GB', () => {
    const nm = read(r.root, NM);
    assert.match(nm, /^ssid=Workshop WiFi$/m);
    assert.equal(line(nm, 'psk='), `psk=${pmk}`);
    assert.doesNotMatch(nm, /hidden/);
    assert.equal(fs.statSync(path.join(r.root, NM)).mode & 0o777, 0o600);
    assert.equal(read(r.root, 'etc/modprobe.d/printbox-wifi-country.conf'), 'options cfg80211 ieee80211_regdom=GB\n');
  });
  test('keyboard layout and time zone', () => {
    assert.match(read(r.root, 'etc/default/keyboard'), /^XKBLAYOUT="gb"$/m);
    assert.equal(fs.readlinkSync(path.join(r.root, 'etc/localtime')), '/usr/share/zoneinfo/Europe/London');
    assert.equal(read(r.root, 'etc/timezone'), 'Europe/London\n');
    assert.doesNotMatch(r.log, /error/i, r.log);
  });
});

describe('Imager 2.0.11.1 (src/customization_generator.cpp, src/downloadthread.cpp): firstrun.sh with password SSH', () => {
  const hash = '$y$j9T$abcdefghijklmnop$IVIQ.EcDFZN0xGheFQUpn/zENWJqMJGSxzYO9Ig.HB1';
  const pmk = '7fc2eee2b1324a22ea2df184d69d25ee946f80b755f659308b79cea41075825b';
  let r: Run;
  before(async () => { r = await firstrun('v2011', { firstrun: fixture('2.0.11.1', 'firstrun.sh'), cmdline: fixture('2.0.11.1', 'cmdline.txt') }); });

  test('firstrun.sh is gone, cmdline.txt is clean, no secret on the FAT or in the log', () => {
    assert.ok(!fs.existsSync(path.join(r.boot, 'firstrun.sh')));
    assert.equal(read(r.boot, 'cmdline.txt'), `${BASE_CMDLINE} cfg80211.ieee80211_regdom=DE`);
    assertNoSecrets(r, [hash, pmk]);
  });
  test('account with the yescrypt hash, password login left on, ssh enabled', () => {
    assert.equal(read(r.root, 'etc/hostname'), 'pb-imager\n');
    assertAdmin(r.root, 'maker', hash);
    assert.ok(!fs.existsSync(path.join(r.root, 'etc/ssh/sshd_config.d/imager-key-only.conf')));
    assert.equal(fs.readlinkSync(path.join(r.root, 'etc/systemd/system/multi-user.target.wants/ssh.service')), '/usr/lib/systemd/system/ssh.service');
  });
  test('hidden Wi-Fi with quotes, spaces and non-ASCII in the SSID; country DE; de keyboard; Berlin', () => {
    const nm = read(r.root, NM);
    assert.match(nm, /^ssid=Café "Ø" Net$/m);
    assert.match(nm, /^hidden=true$/m);
    assert.equal(line(nm, 'psk='), `psk=${pmk}`);
    assert.equal(read(r.root, 'etc/modprobe.d/printbox-wifi-country.conf'), 'options cfg80211 ieee80211_regdom=DE\n');
    assert.match(read(r.root, 'etc/default/keyboard'), /^XKBLAYOUT="de"$/m);
    assert.equal(fs.readlinkSync(path.join(r.root, 'etc/localtime')), '/usr/share/zoneinfo/Europe/Berlin');
  });
});

describe('damaged files on the FAT', () => {
  test('CRLF line ends (an editor on Windows): applied exactly like the original', async () => {
    const crlf = Buffer.from(fixture('2.0.11.1', 'firstrun.sh').toString('utf8').replace(/\n/g, '\r\n'));
    const r = await firstrun('crlf', { firstrun: crlf, cmdline: fixture('2.0.11.1', 'cmdline.txt') });
    assert.equal(read(r.root, 'etc/hostname'), 'pb-imager\n');
    assert.match(read(r.root, NM), /^ssid=Café "Ø" Net$/m);
    assert.match(read(r.root, 'etc/passwd'), /^maker:x:1000:/m);
    assert.equal(read(r.boot, 'cmdline.txt'), `${BASE_CMDLINE} cfg80211.ieee80211_regdom=DE`);
  });
  test('cut off inside the Wi-Fi line: what came before is applied, the rest reported, the FAT still cleaned', async () => {
    const full = fixture('2.0.11.1', 'firstrun.sh');
    const cut = full.subarray(0, full.indexOf(Buffer.from("'7fc2eee2")) + 20);
    const r = await firstrun('truncated', { firstrun: cut, cmdline: fixture('2.0.11.1', 'cmdline.txt') });
    assert.equal(read(r.root, 'etc/hostname'), 'pb-imager\n');
    assert.match(read(r.root, 'etc/passwd'), /^maker:x:1000:/m);
    assert.ok(!fs.existsSync(path.join(r.root, NM)), 'a half Wi-Fi line must not configure a network');
    assert.ok(!fs.existsSync(path.join(r.boot, 'firstrun.sh')));
    assert.equal(read(r.boot, 'cmdline.txt'), `${BASE_CMDLINE} cfg80211.ieee80211_regdom=DE`);
    assert.match(r.log, /firstrun\.sh finished with status [1-9]/);
  });
  test('public keys but no user (Imager 1.9 allows it): root gets the keys, as with printbox.txt', async () => {
    const v196 = fixture('1.9.6', 'firstrun.sh').toString();
    const keysOnly = v196.split('\n').map((l) => (l.startsWith('   /usr/lib/userconf-pi/userconf ') ? '   :' : l)).join('\n');
    const r = await firstrun('nouser', { firstrun: Buffer.from(keysOnly), cmdline: fixture('1.9.6', 'cmdline.txt') });
    assert.deepEqual(read(r.root, 'root/.ssh/authorized_keys').trim().split('\n').map((k) => k.split(' ')[2]), ['maker@laptop', 'maker@phone']);
    assert.equal(fs.statSync(path.join(r.root, 'root/.ssh/authorized_keys')).mode & 0o777, 0o600);
    assert.ok(!fs.existsSync(path.join(r.root, PENDING_KEYS)));
    assert.match(r.log, /SSH keys were given to root/);
    assert.doesNotMatch(read(r.root, 'etc/passwd'), /^maker:/m);
    assert.match(read(r.root, NM), /^ssid=Workshop WiFi$/m); // the rest of the script still ran
  });
  test('firstrun.sh missing: a clear error, and systemd.run leaves cmdline.txt so the next boot is normal', async () => {
    const r = await firstrun('missing', { cmdline: fixture('1.9.6', 'cmdline.txt') });
    assert.match(r.log, /error: .*firstrun\.sh is missing/);
    assert.equal(read(r.boot, 'cmdline.txt'), `${BASE_CMDLINE} cfg80211.ieee80211_regdom=GB`);
  });
});

describe('imager_custom and userconf: odd and bad arguments', () => {
  const lines: string[] = [];
  let n = 0;
  const deps = (): ImagerDeps => ({
    root: makeRoot(`cmd${++n}`),
    log: createLogger({ scope: 'imager', write: (l) => lines.push(l) }),
    run: runTool,
  });
  const ic = (d: ImagerDeps, ...args: string[]) => runImagerCommand(d, 'imager_custom', args);
  const last = () => lines.at(-1) ?? '';

  test('SSIDs with spaces at the ends, ";", "\\" and a 63-character passphrase are kept exactly', async () => {
    const d = deps();
    const pass = 'p'.repeat(62) + ';';
    assert.equal(await ic(d, 'set_wlan', ' lab; \\net ', pass), 0, last());
    const nm = read(d.root, NM);
    // GKeyFile: leading spaces are stripped unless "\\s", "\\" doubles; NetworkManager escapes ";" in an
    // SSID as "\\;" itself (checked against libglib's g_key_file_get_string when writing this)
    assert.equal(line(nm, 'ssid='), 'ssid=\\slab\\\\; \\\\net\\s');
    assert.equal(line(nm, 'psk='), `psk=${'p'.repeat(62)};`);
    assert.ok(!last().includes(pass), 'the passphrase reached the log');
  });
  test('64 hex digits are a PSK; 64 other characters, 7 characters or a newline are refused', async () => {
    const d = deps();
    assert.equal(await ic(d, 'set_wlan', 'Hex', 'A'.repeat(64)), 0);
    assert.equal(line(read(d.root, NM), 'psk='), `psk=${'A'.repeat(64)}`);
    for (const bad of ['g'.repeat(64), 'short12', 'line\nbreak1']) {
      const e = deps();
      assert.equal(await ic(e, 'set_wlan', 'Net', bad), 1);
      assert.match(last(), /8-63 characters or 64 hex digits/);
      assert.ok(!last().includes(bad) && !fs.existsSync(path.join(e.root, NM)));
    }
  });
  test('an open network (no PSK) and an SSID over 32 bytes', async () => {
    const d = deps();
    assert.equal(await ic(d, 'set_wlan', 'Cafe Guest'), 0);
    assert.doesNotMatch(read(d.root, NM), /wifi-security|psk=/);
    assert.equal(await ic(deps(), 'set_wlan', 'Ø'.repeat(17), 'x'.repeat(64)), 1);
    assert.match(last(), /1 to 32 bytes/);
  });
  test('an unknown country: Wi-Fi still written (world domain), the error says why', async () => {
    for (const cc of ['XX', 'Germany', 'd3']) {
      const d = deps();
      assert.equal(await ic(d, 'set_wlan', 'Net', 'f'.repeat(64), cc), 1);
      assert.match(last(), new RegExp(`Wi-Fi country "${cc}" is not a two-letter ISO 3166 country code.*configured without a country`));
      assert.ok(fs.existsSync(path.join(d.root, NM)));
      assert.ok(!fs.existsSync(path.join(d.root, 'etc/modprobe.d/printbox-wifi-country.conf')));
    }
    const lower = deps();
    assert.equal(await ic(lower, 'set_wlan_country', 'us'), 0);
    assert.match(read(lower.root, 'etc/modprobe.d/printbox-wifi-country.conf'), /regdom=US/);
  });
  test('bad hostname, time zone, keymap, key line and an unknown subcommand are errors', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['set_hostname', '-bad-'], /hostname "-bad-" is invalid/],
      [['set_timezone', 'Mars/Olympus'], /time zone "Mars\/Olympus" is unknown/],
      [['set_timezone', '../../etc/shadow'], /time zone .* is invalid/],
      [['set_keymap', 'de;rm'], /keyboard layout .* is invalid/],
      [['enable_ssh', '-k', 'not a key'], /SSH key 1 is not a public key line/],
      [['set_locale', 'C'], /unsupported command/],
    ];
    for (const [args, re] of cases) {
      assert.notEqual(await ic(deps(), ...args), 0, args.join(' '));
      assert.match(last(), re);
    }
    assert.equal(await ic(deps(), 'set_hostname'), 2);
    assert.match(last(), /usage: imager_custom set_hostname HOSTNAME/);
  });
  test('enable_ssh -k without keys does not lock password login out', async () => {
    const d = deps();
    assert.equal(await ic(d, 'enable_ssh', '-k'), 0);
    assert.ok(!fs.existsSync(path.join(d.root, 'etc/ssh/sshd_config.d/imager-key-only.conf')));
  });
  test('userconf: a plain password, a bad name or a system account are refused; an empty hash means keys only', async () => {
    const d = deps();
    assert.equal(await runImagerCommand(d, 'userconf', ['maker', 'plain-password']), 1);
    assert.match(last(), /not a crypt\(3\) hash/);
    assert.ok(!last().includes('plain-password'));
    assert.equal(await runImagerCommand(d, 'userconf', ['Maker!', '$5$a$b']), 1);
    assert.equal(await runImagerCommand(d, 'userconf', ['printbox', '$5$a$b']), 1);
    assert.match(last(), /system account/);
    assert.equal(await runImagerCommand(d, 'userconf', ['pi', '']), 0, last());
    assert.match(last(), /no password \(SSH keys only\)/);
    assert.match(read(d.root, 'etc/shadow'), /^pi:!:/m);
  });
  test('userconf renames an existing uid-1000 account, as Raspberry Pi OS does, and keeps it an admin', async () => {
    const d = deps();
    assert.equal(await runImagerCommand(d, 'userconf', ['pi', '$5$abc$def']), 0, last());
    assert.equal(await runImagerCommand(d, 'userconf', ['maker', '$5$abc$xyz']), 0, last());
    assert.match(last(), /account pi renamed to maker/);
    assertAdmin(d.root, 'maker', '$5$abc$xyz');
    assert.doesNotMatch(read(d.root, 'etc/passwd'), /^pi:/m);
    assert.ok(fs.existsSync(path.join(d.root, 'home/maker')));
  });
});

describe('the image asks Imager for this format and has the tools where firstrun.sh looks', () => {
  test('os_list entry: "init_format": "systemd"; FAT issue.txt names pi-gen for Imager 1.9 with a local file', () => {
    assert.match(fs.readFileSync(path.join(REPO, 'scripts/build-image.sh'), 'utf8'), /init_format: "systemd"/);
    assert.match(fs.readFileSync(path.join(REPO, 'image/assemble.sh'), 'utf8'), /issue\.txt[\s\S]*pi-gen|pi-gen[\s\S]*issue\.txt/);
  });
  test('/boot/firstrun.sh, imager_custom and userconf are executable and run the linker entry point', () => {
    const overlay = path.join(REPO, 'image/overlay');
    for (const [file, tool] of [['boot/firstrun.sh', ''], ['usr/lib/raspberrypi-sys-mods/imager_custom', 'imager_custom'], ['usr/lib/userconf-pi/userconf', 'userconf']] as const) {
      assert.ok(fs.statSync(path.join(overlay, file)).mode & 0o100, `${file} is not executable`);
      if (tool) assert.match(fs.readFileSync(path.join(overlay, file), 'utf8'), new RegExp(`/opt/printbox/build/services/linker/imager-main\\.js ${tool} "\\$@"`));
    }
    assert.ok(fs.existsSync(path.join(REPO, 'services/linker/imager-main.ts')));
  });
});
