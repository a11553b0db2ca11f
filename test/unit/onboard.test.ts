/**
 * Wi-Fi onboarding's decisions, driven tick by tick with a clock and a radio that behaves like
 * NetworkManager's (one radio: scanning and joining need the hotspot closed), and the setup portal over a
 * real HTTP server. NetworkManager itself runs it in the booted image with mac80211_hwsim radios.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { AppError } from '../../services/shared/errors.ts';
import { hotspotSsid } from '../../services/web/onboard/hotspot.ts';
import { portalHandler } from '../../services/web/onboard/portal.ts';
import { rig } from '../helpers/onboard-rig.ts';

test('no network for the configured time: scan, then the open hotspot; a cable closes it at once', async () => {
  const r = rig();
  await r.at(0); await r.at(60); await r.at(119);
  assert.deepEqual(r.calls, [], 'nothing before afterS');
  await r.at(120);
  assert.deepEqual(r.calls, ['scan', 'start wlan0 PrintBox-AB12']);
  assert.equal(r.sup.status().phase, 'hotspot');
  assert.ok(r.sup.portalOpen());
  assert.deepEqual(r.sup.status().networks.map((n) => n.ssid), ['Home']);
  r.link.cable = true;
  await r.at(130);
  assert.deepEqual(r.calls.slice(2), ['stop']);
  assert.equal(r.sup.status().phase, 'connected');
  assert.ok(!r.sup.portalOpen());
});

test('a connection within the wait, or no Wi-Fi radio at all: no hotspot', async () => {
  const r = rig();
  await r.at(0); r.link.cable = true; await r.at(100); r.link.cable = false; await r.at(150);
  await r.at(269);
  assert.deepEqual(r.calls, [], 'the wait starts again when the connection goes');
  await r.at(270);
  assert.deepEqual(r.calls, ['scan', 'start wlan0 PrintBox-AB12']);
  const none = rig({ wifi: false });
  await none.at(0); await none.at(1000);
  assert.deepEqual(none.calls, []);
});

test('an unused hotspot closes for a while so a known network can come back, then opens again; portal use defers that', async () => {
  const r = rig();
  await r.at(0); await r.at(120); await r.at(400);
  r.sup.touch(); // someone on the portal at t=400
  await r.at(420);
  assert.equal(r.sup.status().phase, 'hotspot', 'portal used less than 2 min ago');
  await r.at(520);
  assert.equal(r.sup.status().phase, 'retrying');
  assert.deepEqual(r.calls.slice(2), ['stop']);
  await r.at(540);
  assert.deepEqual(r.calls.slice(3), [], 'NetworkManager gets its 45 s');
  await r.at(565);
  assert.deepEqual(r.calls.slice(3), ['scan', 'start wlan0 PrintBox-AB12'], 'nothing came back: a fresh scan, hotspot again');
  // the router is back during the next retry window: NetworkManager rejoins on its own
  await r.at(865);
  assert.equal(r.sup.status().phase, 'retrying');
  r.link.wifiUp = true;
  await r.at(880);
  assert.equal(r.sup.status().phase, 'connected');
});

test('a join from the portal closes the hotspot first; a refused password opens it again with the reason', async () => {
  const bad = rig({ joinFails: new AppError('wifi_wrong_password', 409, 'Joining "Home" failed: the password was not accepted') });
  await bad.at(0); await bad.at(120);
  bad.sup.join({ ssid: 'Home', psk: 'wrong-pass', hidden: false });
  assert.equal(bad.sup.status().phase, 'joining');
  assert.ok(bad.sup.portalOpen());
  await bad.settle();
  assert.deepEqual(bad.calls, ['scan', 'start wlan0 PrintBox-AB12', 'stop', 'join Home', 'scan', 'start wlan0 PrintBox-AB12']);
  assert.equal(bad.sup.status().phase, 'hotspot');
  assert.deepEqual(bad.sup.status().last, { ssid: 'Home', ok: false, code: 'wifi_wrong_password', message: 'Joining "Home" failed: the password was not accepted', at: 120_000 });
  const good = rig();
  await good.at(0); await good.at(120);
  good.sup.join({ ssid: 'Home', psk: 'right-pass', hidden: false });
  await good.settle();
  assert.equal(good.sup.status().phase, 'connected');
  assert.equal(good.sup.status().last?.ok, true);
  await good.at(200);
  assert.deepEqual(good.calls.slice(-2), ['stop', 'join Home'], 'connected: the hotspot stays closed');
});

test('the hotspot name comes from the board serial number, else the machine id', () => {
  assert.equal(hotspotSsid((f) => (f.includes('serial') ? '10000000abcd12ef\u0000' : '')), 'PrintBox-12EF');
  assert.equal(hotspotSsid((f) => { if (f.includes('serial')) throw new Error('ENOENT'); return '5f3c0a9e8d7b4c6a9e8d7b4c6a9e1234\n'; }), 'PrintBox-1234');
  assert.equal(hotspotSsid(() => { throw new Error('ENOENT'); }), 'PrintBox-0000');
});

test('portal over HTTP: the page, its status, a join (audited, no password in the audit), bad input, and every other URL to /setup', async () => {
  const r = rig();
  await r.at(0); await r.at(120);
  const audited: unknown[] = [];
  const server = http.createServer(portalHandler({ onboard: r.sup, deviceName: () => 'printbox.local', audit: { record: async (e) => { audited.push(e); } }, onError: () => undefined }));
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const port = (server.address() as AddressInfo).port;
  const req = (method: string, p: string, body?: string, headers: Record<string, string> = {}) => new Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }>((resolve, reject) => {
    const q = http.request({ host: '127.0.0.1', port, method, path: p, headers }, (res) => {
      let text = ''; res.on('data', (c) => (text += c)); res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    q.on('error', reject); q.end(body);
  });
  try {
    const page = await req('GET', '/setup');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.match(page.text, /Connect PrintBox to your Wi-Fi/);
    const status = JSON.parse((await req('GET', '/setup/status')).text);
    assert.equal(status.phase, 'hotspot');
    assert.equal(status.hotspot, 'PrintBox-AB12');
    assert.equal(status.device, 'printbox.local');
    for (const p of ['/generate_204', '/hotspot-detect.html', '/connecttest.txt', '/', '/api/health']) {
      const x = await req('GET', p, undefined, { Host: 'connectivitycheck.gstatic.com' });
      assert.equal(x.status, 302, p);
      assert.equal(x.headers.location, 'http://10.42.0.1/setup', p);
    }
    const bad = await req('POST', '/setup/join', JSON.stringify({ ssid: '', psk: 'short' }), { 'Content-Type': 'application/json' });
    assert.equal(bad.status, 400);
    assert.equal(JSON.parse(bad.text).error.code, 'invalid_wifi');
    assert.equal((await req('POST', '/setup/join', '{not json')).status, 400);
    assert.equal((await req('POST', '/setup/join', 'x'.repeat(5000))).status, 413);
    assert.deepEqual(r.calls, ['scan', 'start wlan0 PrintBox-AB12'], 'bad input never reached the radio');
    const ok = await req('POST', '/setup/join', JSON.stringify({ ssid: 'Home', psk: 'right-pass' }), { 'Content-Type': 'application/json' });
    assert.equal(ok.status, 202);
    assert.deepEqual(JSON.parse(ok.text), { joining: 'Home', device: 'printbox.local' });
    await r.settle();
    assert.equal(r.sup.status().phase, 'connected');
    assert.equal(audited.length, 1);
    assert.doesNotMatch(JSON.stringify(audited), /right-pass/);
    assert.match(JSON.stringify(audited), /"actor":"setup-portal".*"action":"POST \/setup\/join"/);
  } finally {
    server.closeAllConnections();
    await new Promise((res) => server.close(res));
  }
});
