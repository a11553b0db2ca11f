/**
 * Wi-Fi onboarding on the booted image with real radios: the Debian kernel's mac80211_hwsim gives the guest
 * three, which hear each other as one medium. The first stays with NetworkManager (the Pi's own Wi-Fi);
 * the second, in a network namespace of its own, is the user's "home network" (wpa_supplicant as a WPA2
 * access point, Debian's dnsmasq for DHCP); the third, in another namespace, is the phone (wpa_supplicant as
 * a client). Ethernet is taken away from NetworkManager first (kept up by hand for this test's SSH), so the
 * device has no network and opens its setup hotspot. What runs is the image's own: the web's supervisor,
 * NetworkManager's shared mode with the image's dnsmasq-shared.d file, the portal, nmcli's join.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor, type Guest } from './qemu.ts';

const HOME = { ssid: 'HomeNet', psk: 'correct horse 42', net: '192.168.77' };

export function onboardChecks(g: Guest): void {
  /** Runs `node -e script` in the phone's namespace; the script prints one JSON line. */
  const phone = async (script: string) => JSON.parse((await g.sudo(`ip netns exec phone node -e '${script}'`)).trim().split('\n').pop()!) as Record<string, unknown>;
  const phoneHttp = (method: string, p: string, body?: unknown, host = '10.42.0.1') => phone(
    `const req = require("http").request({ host: "10.42.0.1", port: 80, method: "${method}", path: "${p}", headers: { Host: "${host}", "Content-Type": "application/json" }, timeout: 20000 }, (r) => {` +
    ' let t = ""; r.on("data", (c) => (t += c)); r.on("end", () => console.log(JSON.stringify({ status: r.statusCode, location: r.headers.location || null, body: t }))); });' +
    ' req.on("error", (e) => console.log(JSON.stringify({ status: 0, error: String(e) }))); req.on("timeout", () => req.destroy(new Error("timeout")));' +
    ` req.end(${body === undefined ? '' : JSON.stringify(JSON.stringify(body))});`);
  const status = async () => {
    const r = await phoneHttp('GET', '/setup/status');
    return r.status === 200 ? JSON.parse(String(r.body)) as { phase: string; hotspot: string; networks: Array<{ ssid: string }>; last?: { ok: boolean; code?: string; message: string; at: number } } : undefined;
  };
  let wlanHome = '';
  let wlanPhone = '';

  test('onboarding: three hwsim radios; a WPA2 home network and a phone, each in its own namespace', async () => {
    await g.sudo('modprobe mac80211_hwsim radios=3');
    const phys = await waitFor('three radios', 60_000, async () => {
      const l = (await g.ssh('ls /sys/class/ieee80211')).trim().split(/\s+/).filter(Boolean);
      return l.length === 3 ? l.sort() : undefined;
    });
    const dev = async (phy: string) => (await g.ssh(`ls /sys/class/ieee80211/${phy}/device/net`)).trim();
    wlanHome = await dev(phys[1]!); wlanPhone = await dev(phys[2]!);
    await g.sudo([
      'set -e', 'ip netns add home', 'ip netns add phone',
      `iw phy ${phys[1]} set netns name home`, `iw phy ${phys[2]} set netns name phone`,
      `ip netns exec home ip link set ${wlanHome} up`, `ip netns exec home ip addr add ${HOME.net}.1/24 dev ${wlanHome}`,
      `printf 'network={\\n ssid="${HOME.ssid}"\\n mode=2\\n frequency=2437\\n key_mgmt=WPA-PSK\\n proto=RSN\\n pairwise=CCMP\\n group=CCMP\\n psk="${HOME.psk}"\\n}\\n' > /run/home-ap.conf`,
      `ip netns exec home wpa_supplicant -B -D nl80211 -i ${wlanHome} -c /run/home-ap.conf -P /run/home-ap.pid`,
      `ip netns exec home dnsmasq --conf-file=/dev/null --bind-interfaces --interface=${wlanHome} --port=0 --dhcp-range=${HOME.net}.10,${HOME.net}.50,1h ` +
        '--dhcp-leasefile=/run/home.leases --pid-file=/run/home-dnsmasq.pid --user=root',
      `ip netns exec phone ip link set ${wlanPhone} up`,
    ].join('\n'));
    console.log(`# radios ${phys.join(', ')}: device ${await dev(phys[0]!)}, home ${wlanHome}, phone ${wlanPhone}`);
  });

  test('onboarding: without a network the device opens its setup hotspot; the phone joins it and is sent to the portal', async () => {
    // The hotspot waits 10 s here instead of the default 120 s; eth0 leaves NetworkManager but keeps this test's SSH.
    await g.sudo("printf 'PRINTBOX_HOTSPOT_AFTER_S=10\\nPRINTBOX_HOTSPOT_RETRY_S=3600\\n' >> /etc/printbox/printbox.env && " +
      "nohup sh -c 'nmcli device set eth0 managed no; ip link set eth0 up; ip addr replace 10.0.2.15/24 dev eth0; ip route replace default via 10.0.2.2; systemctl restart printbox-web' >/run/unmanage.log 2>&1 &");
    const t0 = Date.now();
    await waitFor('SSH again over the unmanaged eth0', 120_000, async () => ((await g.ssh('echo ok').catch(() => '')).trim() === 'ok' ? true : undefined));
    await waitFor('setup hotspot active', 180_000, async () => /printbox-setup/.test(await g.ssh('nmcli -t -f NAME connection show --active')) ? true : undefined);
    const ssid = (await g.sudo('nmcli -g 802-11-wireless.ssid connection show printbox-setup')).trim();
    assert.match(ssid, /^PrintBox-[0-9A-F]{4}$/);
    console.log(`# hotspot ${ssid} open ${((Date.now() - t0) / 1000).toFixed(0)} s after the network went`);
    await g.sudo([
      'set -e', `printf 'network={\\n ssid="${ssid}"\\n key_mgmt=NONE\\n}\\n' > /run/phone.conf`,
      `ip netns exec phone wpa_supplicant -B -D nl80211 -i ${wlanPhone} -c /run/phone.conf -P /run/phone.pid`,
      `ip netns exec phone ip addr add 10.42.0.77/24 dev ${wlanPhone}`,
    ].join('\n'));
    await waitFor('the phone associated', 60_000, async () => /Connected to/.test(await g.sudo(`ip netns exec phone iw dev ${wlanPhone} link`)) ? true : undefined);
    const dns = await phone('const r = new (require("dns").promises.Resolver)(); r.setServers(["10.42.0.1"]); r.resolve4("connectivitycheck.gstatic.com").then((a) => console.log(JSON.stringify({ a })), (e) => console.log(JSON.stringify({ e: String(e) })));');
    assert.deepEqual(dns, { a: ['10.42.0.1'] }, 'every name is the device');
    const check = await phoneHttp('GET', '/generate_204', undefined, 'connectivitycheck.gstatic.com');
    assert.equal(check.status, 302, JSON.stringify(check));
    assert.equal(check.location, 'http://10.42.0.1/setup');
    const page = await phoneHttp('GET', '/setup');
    assert.match(String(page.body), /Connect PrintBox to your Wi-Fi/);
    const s = await status();
    assert.equal(s?.phase, 'hotspot');
    assert.ok(s?.networks.some((n) => n.ssid === HOME.ssid), `the scan before the hotspot saw ${HOME.ssid}: ${JSON.stringify(s?.networks)}`);
    // on its usual address port 80 still only redirects to HTTPS: the portal is the hotspot's alone
    const other = await g.ssh("node -e 'require(\"http\").get(\"http://127.0.0.1/setup\", (r) => console.log(r.statusCode, r.headers.location))'");
    assert.match(other, /^30[18] https:\/\//);
  });

  test('onboarding: a wrong password brings the hotspot back with the reason; the right one joins the home network', async () => {
    assert.equal((await phoneHttp('POST', '/setup/join', { ssid: HOME.ssid, psk: 'wrong password 1' })).status, 202);
    const failed = await waitFor('the hotspot back with the failure', 240_000, async () => {
      const s = await status().catch(() => undefined);
      return s?.phase === 'hotspot' && s.last && !s.last.ok ? s.last : undefined;
    });
    console.log(`# wrong password: ${failed.code}: ${failed.message}`);
    assert.match(failed.code ?? '', /^wifi_(wrong_password|join_timeout)$/);
    assert.doesNotMatch(await g.sudo('ls /etc/NetworkManager/system-connections'), new RegExp(HOME.ssid), 'no profile kept with the wrong password');
    assert.equal((await phoneHttp('POST', '/setup/join', { ssid: HOME.ssid, psk: HOME.psk })).status, 202);
    const addr = await waitFor(`joined ${HOME.ssid}`, 180_000, async () => {
      const out = await g.ssh('nmcli -t -f DEVICE,STATE,CONNECTION device status; ip -4 -o addr show');
      const m = new RegExp(`inet (${HOME.net.replace(/\./g, '\\.')}\\.\\d+)/`).exec(out);
      return new RegExp(`:connected:${HOME.ssid}$`, 'm').test(out) && m ? m[1] : undefined;
    });
    console.log(`# joined ${HOME.ssid} as ${addr}`);
    assert.doesNotMatch(await g.ssh('nmcli -t -f NAME connection show --active'), /printbox-setup/, 'the hotspot stays closed');
    // the passphrase with its spaces reached NetworkManager intact, and only root can read it
    assert.match(await g.sudo(`grep -h '^psk=' /etc/NetworkManager/system-connections/*.nmconnection`), new RegExp(`^psk=${HOME.psk}$`, 'm'));
    const fromHome = await g.sudo(`ip netns exec home node -e 'require("https").get({ host: "${addr}", path: "/api/health", rejectUnauthorized: false }, (r) => console.log(r.statusCode))'`);
    assert.equal(fromHome.trim(), '200', 'the web answers on the home network');
  });
}
