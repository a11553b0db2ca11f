/**
 * Device administration below the routes: nmcli's terse output, the input checks, how a failed system
 * tool becomes an error, and what the admin asks nmcli to do (secrets in a 0600 file, never in argv). The
 * tools themselves run for real in the booted image (test/image/admin-checks.ts).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { AppError } from '../../services/shared/errors.ts';
import { createSystemAdmin, passwdFileValue } from '../../services/web/system/admin.ts';
import { parseBlocks, parseScan, splitTerse } from '../../services/web/system/nmcli.ts';
import { execTool, toolError, type Tool, type ToolRun } from '../../services/shared/tools.ts';
import { parseForce, parseHostname, parseTimezone, parseUuid, parseWifiJoin } from '../../services/web/system/validate.ts';
import { scrub } from '../../services/web/security/audit.ts';

const isError = (code: string, status: number) => (e: unknown) => e instanceof AppError && e.code === code && e.status === status;

test('terse output: escaped colons and backslashes stay inside one field (tabular); multiline lines split at their first colon', () => {
  assert.deepEqual(splitTerse('a\\:b:c\\\\d:'), ['a:b', 'c\\d', '']);
  assert.deepEqual(splitTerse('*:Café "Wi-Fi" 5\\:GHz:72:WPA2'), ['*', 'Café "Wi-Fi" 5:GHz', '72', 'WPA2']);
  const blocks = parseBlocks([
    'GENERAL.DEVICE:eth0', 'GENERAL.TYPE:ethernet', 'GENERAL.STATE:100 (connected)', 'GENERAL.HWADDR:52:54:00:12:34:56',
    'IP4.ADDRESS[1]:10.0.2.15/24', 'IP4.ADDRESS[2]:10.0.3.15/24', 'IP4.GATEWAY:10.0.2.2', 'IP6.ADDRESS[1]:fe80::1/64', '',
    'GENERAL.DEVICE:wlan0', 'GENERAL.TYPE:wifi', 'GENERAL.STATE:30 (disconnected)', 'GENERAL.CONNECTION:', 'IP4.GATEWAY:--', '',
  ].join('\n'));
  assert.equal(blocks.length, 2);
  assert.deepEqual(blocks[0]!.get('GENERAL.HWADDR'), ['52:54:00:12:34:56']);
  assert.deepEqual(blocks[0]!.get('IP4.ADDRESS'), ['10.0.2.15/24', '10.0.3.15/24']);
  assert.equal(blocks[1]!.get('GENERAL.CONNECTION'), undefined);
  assert.equal(blocks[1]!.get('IP4.GATEWAY'), undefined);
});

test('scan results: one entry per SSID with its strongest signal, hidden networks left out, the one in use first', () => {
  const out = [' :Home:40:WPA2', '*:Home:70:WPA2', ' :Cafe:90:--', ' ::80:WPA2', ' :Lab\\:2:55:WPA1 WPA2'].join('\n');
  assert.deepEqual(parseScan(out), [
    { ssid: 'Home', signal: 70, security: 'WPA2', inUse: true },
    { ssid: 'Cafe', signal: 90, security: '', inUse: false },
    { ssid: 'Lab:2', signal: 55, security: 'WPA1 WPA2', inUse: false },
  ]);
});

test('hostnames: one DNS label, folded to lower case; anything else a 400 that says what is allowed', () => {
  assert.equal(parseHostname(' Printer-2 '), 'printer-2');
  assert.equal(parseHostname('a'.repeat(63)), 'a'.repeat(63));
  for (const bad of ['', '-x', 'x-', 'a.b', 'my printer', 'drucker-ä', 'a'.repeat(64), 'localhost', 42, null, ['x']]) {
    assert.throws(() => parseHostname(bad), isError('invalid_hostname', 400), String(bad));
  }
});

test('timezones: IANA-shaped names only (the route then checks the system list)', () => {
  for (const ok of ['UTC', 'Europe/Berlin', 'America/Argentina/Buenos_Aires', 'Etc/GMT+5']) assert.equal(parseTimezone(ok), ok);
  for (const bad of ['', '../etc/shadow', 'Europe/Berlin;id', '/UTC', 'Europe//Berlin', 'a/b/c/d', 5]) {
    assert.throws(() => parseTimezone(bad), isError('invalid_timezone', 400), String(bad));
  }
});

test('Wi-Fi input: SSIDs with quotes, spaces and unicode up to 32 bytes; WPA passphrases 8-63 printable or 64 hex', () => {
  assert.deepEqual(parseWifiJoin({ ssid: 'Ben\'s "Home" Wi-Fi', psk: 'p'.repeat(63) }), { ssid: 'Ben\'s "Home" Wi-Fi', psk: 'p'.repeat(63), hidden: false });
  assert.deepEqual(parseWifiJoin({ ssid: 'Wohnzimmer 🦊', psk: 'a1'.repeat(32), hidden: true }), { ssid: 'Wohnzimmer 🦊', psk: 'a1'.repeat(32), hidden: true });
  assert.deepEqual(parseWifiJoin({ ssid: 'Cafe' }), { ssid: 'Cafe', psk: '', hidden: false });
  const problems = (body: unknown) => { try { parseWifiJoin(body); } catch (e) { assert.ok(isError('invalid_wifi', 400)(e)); return (e as AppError).details?.errors; } return undefined; };
  assert.deepEqual(problems({ ssid: 'é'.repeat(17), psk: 'short', hidden: 'yes' }), [
    'ssid is longer than 32 bytes',
    'psk must be 8-63 printable ASCII characters or 64 hex digits (empty for an open network)',
    'hidden must be true or false',
  ]);
  assert.deepEqual(problems({}), ['ssid is required']);
  assert.deepEqual(problems({ ssid: 'a\nb' }), ['ssid contains control characters']);
  for (const psk of ['p'.repeat(64), 'g'.repeat(64), 'pässwörter', 'x'.repeat(7)]) assert.ok(problems({ ssid: 'x', psk }), psk);
  assert.throws(() => parseUuid('eth0; rm -rf /'), isError('invalid_connection', 400));
  assert.equal(parseUuid('3F2504E0-4F89-41D3-9A0C-0305E82C3301'), '3f2504e0-4f89-41d3-9a0c-0305e82c3301');
  assert.equal(parseForce({}), false);
  assert.equal(parseForce({ force: true }), true);
  assert.throws(() => parseForce({ force: 'yes' }), isError('invalid_force', 400));
});

test('the audit log never keeps a Wi-Fi passphrase', () => {
  assert.deepEqual(scrub({ ssid: 'Home', psk: 'secret-pass', hidden: false }), { ssid: 'Home', psk: '[redacted]', hidden: false });
});

test('a failed tool: missing 503, refused by polkit 403, timed out 504, otherwise the tool\'s own words', async () => {
  // real spawns: a command this machine does not have, and one that fails with its own message
  const missing = await execTool('printbox-no-such-tool', []).catch((e: unknown) => e);
  assert.ok(isError('system_tool_missing', 503)(toolError(missing, 'x', 'Doing it')));
  const failed = await execTool('sh', ['-c', 'echo "Error: Connection activation failed: Secrets were required, but not provided." >&2; exit 4']).catch((e: unknown) => e);
  const err = toolError(failed, 'wifi_join_failed', 'Joining "Home"', 409);
  assert.ok(isError('wifi_join_failed', 409)(err));
  assert.equal(err.message, 'Joining "Home": Connection activation failed: Secrets were required, but not provided.');
  const denied = await execTool('sh', ['-c', 'echo "Could not set property: Access denied" >&2; exit 1']).catch((e: unknown) => e);
  assert.ok(isError('system_not_permitted', 403)(toolError(denied, 'hostname_failed', 'Setting the hostname')));
  const slow = await execTool('sleep', ['5'], { timeoutMs: 100 }).catch((e: unknown) => e);
  assert.ok(isError('x', 504)(toolError(slow, 'x', 'Waiting')));
  assert.equal(await execTool('cat', [], { input: 'from stdin' }), 'from stdin');
});

/** nmcli as NetworkManager would answer, recording every call. */
function fakeNmcli(opts: { upFails?: string; saved?: string[] } = {}) {
  const calls: { args: string[]; opts?: ToolRun }[] = [];
  const secrets: { text: string; mode: number }[] = [];
  const tool: Tool = async (cmd, args, o) => {
    calls.push({ args: [cmd, ...args], ...(o ? { opts: o } : {}) });
    const a = args.join(' ');
    if (a.includes('device show')) return 'GENERAL.DEVICE:eth0\nGENERAL.TYPE:ethernet\n\nGENERAL.DEVICE:wlan0\nGENERAL.TYPE:wifi\nGENERAL.STATE:30 (disconnected)\n';
    if (a.includes('connection show') && a.includes('NAME,UUID')) return (opts.saved ?? []).join('\n');
    if (a.startsWith('-g 802-11-wireless.ssid')) return 'Home\n';
    if (a.includes('passwd-file')) { const f = args[args.indexOf('passwd-file') + 1]!; secrets.push({ text: fs.readFileSync(f, 'utf8'), mode: fs.statSync(f).mode & 0o777 }); }
    if (a.includes('connection up') && opts.upFails) throw Object.assign(new Error('Command failed: nmcli'), { code: 4, stderr: opts.upFails });
    return '';
  };
  return { tool, calls, secrets };
}

test('join: the profile is added without the passphrase, which reaches nmcli in a passwd-file deleted after; older profiles of the SSID go after success', async () => {
  const nm = fakeNmcli({ saved: ['Home:11111111-1111-4111-8111-111111111111:802-11-wireless:yes:no', 'Wired:22222222-2222-4222-8222-222222222222:802-3-ethernet:yes:yes'] });
  const r = await createSystemAdmin(nm.tool).join({ ssid: 'Home', psk: 'correct horse', hidden: true });
  assert.equal(r.device, 'wlan0');
  for (const c of nm.calls) assert.ok(!c.args.join(' ').includes('correct horse'), `passphrase in argv: ${c.args.join(' ')}`);
  const add = nm.calls.find((c) => c.args[1] === 'connection' && c.args[2] === 'add')!;
  assert.deepEqual(add.args.slice(0, 13), ['nmcli', 'connection', 'add', 'type', 'wifi', 'ifname', 'wlan0', 'con-name', 'Home', 'connection.uuid', r.uuid, 'ssid', 'Home']);
  assert.ok(add.args.join(' ').endsWith('802-11-wireless.hidden yes wifi-sec.key-mgmt wpa-psk'));
  const up = nm.calls.find((c) => c.args.includes('up'))!;
  assert.deepEqual(up.args.slice(0, 8), ['nmcli', '--wait', '40', 'connection', 'up', 'uuid', r.uuid, 'passwd-file']);
  assert.equal(nm.secrets.length, 1);
  assert.equal(nm.secrets[0]!.text, '802-11-wireless-security.psk:correct\\040horse\n', 'spaces escaped: nmcli strips them at either end');
  assert.equal(nm.secrets[0]!.mode, 0o600);
  assert.ok(!fs.existsSync(up.args[8]!), 'the passphrase file is gone once nmcli is done');
  assert.equal(passwdFileValue(' a\\b '), '\\040a\\\\b\\040');
  const deleted = nm.calls.filter((c) => c.args.includes('delete')).map((c) => c.args.at(-1));
  assert.deepEqual(deleted, ['11111111-1111-4111-8111-111111111111'], 'the older "Home" profile, not the wired one');
});

test('join: a refused passphrase removes the new profile again and says so; other failures keep NetworkManager\'s words', async () => {
  const wrong = fakeNmcli({ upFails: 'Error: Connection activation failed: Secrets were required, but not provided.\n' });
  await assert.rejects(createSystemAdmin(wrong.tool).join({ ssid: 'Home', psk: 'wrong-pass', hidden: false }), isError('wifi_wrong_password', 409));
  const added = wrong.calls.find((c) => c.args.includes('add'))!;
  const uuid = added.args[added.args.indexOf('connection.uuid') + 1];
  assert.deepEqual(wrong.calls.at(-1)!.args, ['nmcli', 'connection', 'delete', 'uuid', uuid]);
  const gone = fakeNmcli({ upFails: 'Error: Connection activation failed: No network with SSID \'Home\' found.\n' });
  await assert.rejects(createSystemAdmin(gone.tool).join({ ssid: 'Home', psk: '', hidden: false }),
    (e: unknown) => isError('wifi_join_failed', 409)(e) && /No network with SSID 'Home' found/.test((e as Error).message));
  assert.ok(!gone.calls.some((c) => c.args.includes('passwd-file')), 'an open network gets no passwd-file');
  // NetworkManager 1.52 asks nmcli's agent again after a refused passphrase and gets the same one: nmcli times out
  const loop = fakeNmcli({ upFails: 'Error: Timeout expired (40 seconds)\n' });
  await assert.rejects(createSystemAdmin(loop.tool).join({ ssid: 'Home', psk: 'wrong-pass', hidden: false }), isError('wifi_join_timeout', 409));
  assert.ok(loop.calls.at(-1)!.args.includes('delete'), 'the profile saved with the wrong passphrase is removed');
});

test('forget: only a saved Wi-Fi profile; hostname, timezone and power run the systemd tools with fixed arguments', async () => {
  const nm = fakeNmcli({ saved: ['Wired:22222222-2222-4222-8222-222222222222:802-3-ethernet:yes:yes'] });
  const admin = createSystemAdmin(nm.tool);
  await assert.rejects(admin.forget('22222222-2222-4222-8222-222222222222'), isError('not_found', 404));
  assert.ok(!nm.calls.some((c) => c.args.includes('delete')));
  await admin.setHostname('printer-2');
  await admin.setTimezone('Europe/Berlin');
  await admin.power('poweroff');
  assert.deepEqual(nm.calls.slice(-3).map((c) => c.args), [
    ['hostnamectl', '--static', '--transient', 'set-hostname', 'printer-2'],
    ['timedatectl', 'set-timezone', 'Europe/Berlin'],
    ['systemctl', '--no-ask-password', 'poweroff'],
  ]);
});
