/**
 * The setup portal as a phone sees it: phone-sized chromium, every name answered by the device (what the
 * image's dnsmasq does on the hotspot; here the browser's HTTP proxy), so the phone's captive-portal check lands on /setup. The page lists
 * the scanned networks (names with quotes, accents and markup shown as text), sends a join, and tells the
 * user what happens next; a refused password comes back on the page with the reason once the phone is on
 * the hotspot again, and the right one says where the device is. The portal and the onboarding supervisor
 * are the real ones; the radio is the rig's (NetworkManager itself runs it in the booted image).
 * Screenshots: test-artifacts/screenshots/setup-portal-*.png.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { AppError } from '../../services/shared/errors.ts';
import { portalHandler } from '../../services/web/onboard/portal.ts';
import { rig } from '../helpers/onboard-rig.ts';
import { launch, screenshot, type LaunchedBrowser } from './support.ts';

const ODD = 'Café "Ω" <b>5G</b>';
const opts: Parameters<typeof rig>[0] = {
  networks: [
    { ssid: 'Home', signal: 70, security: 'WPA2', inUse: false },
    { ssid: ODD, signal: 41, security: '', inUse: false },
  ],
};
const r = rig(opts);
let server: http.Server;
let b: LaunchedBrowser;
const pageErrors: string[] = [];

before(async () => {
  await r.at(0); await r.at(120); // no network for the configured wait: the hotspot is open
  const portal = portalHandler({ onboard: r.sup, deviceName: () => 'printbox.local', onError: () => undefined });
  // The browser's HTTP proxy: every name and address, the hotspot's own included, reaches the portal, as
  // the hotspot's dnsmasq makes it for a phone. A proxy is asked for absolute URLs; the portal sees the path.
  server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://10.42.0.1');
    req.url = `${u.pathname}${u.search}`;
    portal(req, res);
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  b = await launch({ phone: true, httpProxy: `127.0.0.1:${(server.address() as AddressInfo).port}` });
  b.page.on('pageerror', (e) => pageErrors.push(e.message));
});

after(async () => {
  await b?.close();
  server?.closeAllConnections();
  await new Promise((res) => server?.close(res));
});

test("a phone's captive-portal check lands on the setup page, which lists the networks in range as text", async () => {
  const p = b.page;
  await p.goto('http://connectivitycheck.gstatic.com/generate_204');
  assert.equal(p.url(), 'http://10.42.0.1/setup');
  await p.getByRole('heading', { name: 'Connect PrintBox to your Wi-Fi' }).waitFor();
  const net = p.getByLabel('Network', { exact: true });
  await net.locator('option', { hasText: 'Home (70 %)' }).waitFor({ state: 'attached' });
  const options = await net.locator('option').allInnerTexts();
  assert.deepEqual(options, ['Choose…', 'Home (70 %)', `${ODD} (41 %, open)`, 'Other (type its name)']);
  await screenshot(p, 'setup-portal-networks');
});

test('bad input is refused on the page with the reason; nothing reaches the radio', async () => {
  const p = b.page;
  await p.getByLabel('Network', { exact: true }).selectOption('Home');
  assert.equal(await p.getByLabel('Network name (SSID)').inputValue(), 'Home');
  await p.getByLabel('Password').fill('short');
  await p.getByRole('button', { name: 'Connect' }).click();
  await p.getByRole('status').filter({ hasText: 'psk must be 8-63 printable ASCII characters' }).waitFor();
  assert.deepEqual(r.calls, ['scan', 'start wlan0 PrintBox-AB12']);
});

test('a wrong password: the page says the device is switching; back on the hotspot it shows why it failed', async () => {
  const p = b.page;
  opts.joinFails = new AppError('wifi_join_timeout', 409, 'Joining "Home" did not succeed within 40 s: check the password, and that the network is in range');
  await p.getByLabel('Password').fill('wrong password');
  await p.getByRole('button', { name: 'Connect' }).click();
  await p.getByRole('status').filter({ hasText: 'PrintBox is joining "Home"' }).waitFor();
  assert.match(await p.getByRole('status').innerText(), /open http:\/\/printbox\.local/);
  await r.settle();
  assert.equal(r.sup.status().phase, 'hotspot', 'the hotspot is open again');
  // the page polls the portal every 3 s: the failure replaces the "joining" message
  await p.getByRole('status').filter({ hasText: 'Joining "Home" did not work: Joining "Home" did not succeed within 40 s' }).waitFor();
  await screenshot(p, 'setup-portal-wrong-password');
});

test('the right password on an odd network name: joined with exactly that name, and the page says where the device is', async () => {
  const p = b.page;
  opts.joinFails = undefined;
  await r.at(150); // the user types for a while: this result is a new one for the page
  await p.getByLabel('Network', { exact: true }).selectOption(ODD);
  assert.equal(await p.getByLabel('Network name (SSID)').inputValue(), ODD);
  await p.getByLabel('Password').fill('');
  await p.getByRole('button', { name: 'Connect' }).click();
  await p.getByRole('status').filter({ hasText: `PrintBox is joining "${ODD}"` }).waitFor();
  await r.settle();
  assert.equal(r.sup.status().phase, 'connected');
  assert.equal(r.calls.filter((c) => c.startsWith('join ')).at(-1), `join ${ODD}`);
  await p.getByRole('status').filter({ hasText: `PrintBox joined "${ODD}". Connect this phone to that network and open http://printbox.local` }).waitFor();
  assert.equal(await p.locator('b').count(), 0, 'the network name is never markup');
  assert.deepEqual(pageErrors, []);
  await screenshot(p, 'setup-portal-joined');
});
