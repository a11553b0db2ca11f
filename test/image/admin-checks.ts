/**
 * Device administration on the booted image, for real: the web runs nmcli, hostnamectl, timedatectl and
 * systemctl as its own user inside its unit's sandbox, NetworkManager/hostnamed/timedated/logind ask
 * polkit, and the image's rule (50-printbox.rules) says yes to that user only. powerOffCheck turns the
 * guest off through the API, so boot.test.ts registers it last; it replaces the teardown's kill.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, screenshot } from '../browser/support.ts';
import { guestRequest, waitFor, type Guest } from './qemu.ts';

export function adminChecks(g: Guest): void {
  const url = (p: string) => `https://127.0.0.1:${g.httpsPort()}${p}`;
  const json = async (method: string, p: string, cookie: string, body?: unknown, headers?: Record<string, string>) => {
    const r = await guestRequest(url(p), { method, body, cookie, headers, timeoutMs: 60_000 });
    return { status: r.status, body: JSON.parse(r.body || 'null') as Record<string, unknown> & { error?: { code: string; message: string } }, text: r.body };
  };
  let cookie = '';

  test('administration: the network as NetworkManager sees it, read by the web through nmcli', async () => {
    cookie = await g.login();
    const settings = await json('GET', '/api/system/settings', cookie);
    assert.equal(settings.status, 200, settings.text);
    assert.equal(settings.body.hostname, (await g.ssh('hostnamectl hostname')).trim());
    const net = await json('GET', '/api/system/network', cookie);
    assert.equal(net.status, 200, net.text);
    const devices = net.body.devices as Array<{ device: string; type: string; state: string; ipv4: string[] }>;
    const eth = devices.find((d) => d.type === 'ethernet');
    assert.ok(eth, net.text);
    assert.equal(eth.state, 'connected', net.text);
    assert.ok(eth.ipv4.some((a) => a.startsWith('10.0.2.15/')), net.text);
    // QEMU's virt machine has no Wi-Fi radio: the scan says so instead of listing nothing
    const scan = await json('GET', '/api/system/wifi/networks', cookie);
    assert.equal(scan.status, 409, scan.text);
    assert.equal(scan.body.error?.code, 'no_wifi_device');
  });

  test('administration: timezone and hostname change through polkit; avahi and the Host allow-list follow the new name', async () => {
    const tz = await json('PUT', '/api/system/timezone', cookie, { timezone: 'Europe/Berlin' });
    assert.equal(tz.status, 200, tz.text);
    assert.equal((await g.ssh('timedatectl show -p Timezone --value')).trim(), 'Europe/Berlin');
    const unknown = await json('PUT', '/api/system/timezone', cookie, { timezone: 'Mars/Olympus_Mons' });
    assert.equal(unknown.body.error?.code, 'unknown_timezone');

    const host = { Host: 'workshop.local' };
    assert.equal((await guestRequest(url('/api/health'), { headers: host })).status, 403, 'a name the device does not have yet');
    const avahiBefore = (await g.ssh('systemctl show -p MainPID --value avahi-daemon.service')).trim();
    const renamed = await json('PUT', '/api/system/hostname', cookie, { hostname: 'Workshop' });
    assert.equal(renamed.status, 200, renamed.text);
    assert.equal((await g.ssh('hostnamectl hostname; cat /etc/hostname')).trim(), 'workshop\nworkshop');
    await waitFor('avahi restarted with the new name', 60_000, async () => {
      const pid = (await g.ssh('systemctl show -p MainPID --value avahi-daemon.service')).trim();
      return pid !== avahiBefore && pid !== '0' && /Host name is workshop\.local/.test(await g.sudo('journalctl -u avahi-daemon -b --no-pager -n 20')) ? true : undefined;
    });
    await waitFor('the web accepting the new name', 30_000, async () => (await guestRequest(url('/api/health'), { headers: host })).status === 200 ? true : undefined);
    const audit = await json('GET', '/api/audit?limit=20', cookie);
    assert.match(audit.text, /PUT \/system\/hostname/, 'the rename is audited');
  });

  test('administration through a real browser: the System screen renames the device, sets the timezone, asks before a restart', async () => {
    // chromium on this machine, the guest's 443 forwarded: the guest sees 10.0.2.2, a remote client that must sign in
    const b = await launch();
    try {
      const p = b.page;
      // chromium on this machine competes with QEMU's two emulated CPUs: the guest answers far slower than usual
      p.setDefaultTimeout(120_000);
      const trace: string[] = [];
      const t0 = Date.now();
      const at = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
      p.on('request', (r) => { if (r.url().includes('/api/')) trace.push(`${at()} → ${r.method()} ${r.url().replace(/^https:\/\/[^/]+/, '')}`); });
      p.on('response', (r) => { if (r.url().includes('/api/')) trace.push(`${at()} ← ${r.status()} ${r.request().method()} ${r.url().replace(/^https:\/\/[^/]+/, '')}`); });
      p.on('requestfailed', (r) => trace.push(`${at()} ✗ ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
      p.on('console', (m) => trace.push(`${at()} console ${m.type()}: ${m.text()}`));
      p.on('pageerror', (e) => trace.push(`${at()} pageerror: ${e.message}`));
      await p.goto(url('/'));
      await p.getByLabel('Username or cloud email').fill(g.admin.user);
      await p.getByLabel('Password', { exact: true }).fill(g.admin.password);
      await p.getByRole('button', { name: 'Sign in' }).click();
      await p.getByRole('link', { name: 'System' }).click();
      const device = p.getByRole('region', { name: 'Device' });
      const name = device.getByLabel('Name on the network');
      await waitFor('the current name in the form', 180_000, async () => ((await name.inputValue()) === 'workshop' ? true : undefined));
      await name.fill('printbox');
      await device.getByRole('button', { name: 'Rename' }).click();
      await device.getByRole('status').filter({ hasText: 'printbox.local' }).waitFor();
      assert.equal((await g.ssh('hostnamectl hostname')).trim(), 'printbox');
      await device.getByLabel('Timezone').selectOption('America/Argentina/Buenos_Aires');
      await device.getByRole('button', { name: 'Set timezone' }).click();
      // the panel answers with a status or an alert: an alert fails with its own words, not a timeout
      const done = device.getByRole('status').filter({ hasText: 'Buenos_Aires' });
      await done.or(device.getByRole('alert')).first().waitFor().catch(async (e) => {
        console.log(trace.join('\n'));
        console.log(await p.locator('main').innerText().catch(() => '?'));
        console.log(await g.sudo('journalctl -u printbox-web -n 60 --no-pager; timedatectl'));
        throw e;
      });
      if (!(await done.isVisible())) {
        await screenshot(p, 'image-system-timezone-failed');
        assert.fail(`the Device panel says: ${await device.innerText()}`);
      }
      assert.equal((await g.ssh('timedatectl show -p Timezone --value')).trim(), 'America/Argentina/Buenos_Aires');
      const net = p.getByRole('region', { name: 'Network connections' });
      await net.getByText('10.0.2.15/24').waitFor();
      await screenshot(p, 'image-system-admin');
      await device.getByRole('button', { name: 'Restart' }).click();
      const dialog = p.getByRole('dialog', { name: 'Restart the device?' });
      await dialog.waitFor();
      await screenshot(p, 'image-system-restart-confirm');
      await dialog.getByRole('button', { name: 'Go back' }).click();
      const audit = await json('GET', '/api/audit?limit=50', cookie);
      assert.doesNotMatch(audit.text, /POST \/system\/reboot/, '"Go back" sent nothing');
    } finally { await b.close(); }
  });

  test('administration: the polkit grant is the web user\'s alone; another user is refused the same change', async () => {
    const before = (await g.ssh('timedatectl show -p Timezone --value')).trim();
    assert.notEqual(before, 'UTC');
    const other = await g.sudo("runuser -u printbox-camera -- timedatectl --no-ask-password set-timezone UTC 2>&1; echo rc=$?");
    assert.match(other, /rc=[1-9]/, other);
    assert.match(other, /access denied|not authorized|interactive authentication required/i, other);
    assert.equal((await g.ssh('timedatectl show -p Timezone --value')).trim(), before, 'unchanged');
  });
}

/** Registered last: the guest is gone afterwards (QEMU runs with -no-reboot and exits). */
export function powerOffCheck(g: Guest): void {
  const json = async (body: unknown) => {
    const cookie = await g.login();
    const r = await guestRequest(`https://127.0.0.1:${g.httpsPort()}/api/system/shutdown`, { method: 'POST', body, cookie, timeoutMs: 60_000 });
    return { status: r.status, body: JSON.parse(r.body || 'null') as unknown, text: r.body };
  };
  test('administration: power off from the API with no print running; the guest halts', async () => {
    const bad = await json({ force: 'yes' });
    assert.equal(bad.status, 400, bad.text);
    const t0 = Date.now();
    const r = await json({});
    assert.equal(r.status, 202, r.text);
    assert.deepEqual(r.body, { action: 'poweroff', force: false });
    await Promise.race([g.exited(), new Promise((_, reject) => setTimeout(() => reject(new Error('the guest did not power off within 120 s')), 120_000))]);
    console.log(`# powered off through the API in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  });
}
