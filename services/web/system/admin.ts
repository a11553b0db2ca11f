/**
 * Device administration through the system's own services: NetworkManager (nmcli) for Ethernet and
 * Wi-Fi, systemd-hostnamed, systemd-timedated and systemd-logind. Each call runs as the web's own
 * user and is allowed by polkit (tools.ts); nothing here needs root.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { conflict, notFound } from '../../shared/errors.ts';
import { parseBlocks, parseRows, parseScan, type WifiNetwork } from './nmcli.ts';
import { execTool, toolError, type Tool } from '../../shared/tools.ts';
import type { WifiJoin } from './validate.ts';

export interface NetworkDevice {
  device: string;
  /** "ethernet", "wifi" … */
  type: string;
  /** "connected", "disconnected", "unavailable", "connecting (getting IP configuration)" … */
  state: string;
  connection: string;
  mac: string;
  ipv4: string[];
  ipv6: string[];
  gateway: string;
}

export interface SavedWifi { uuid: string; name: string; ssid: string; active: boolean; autoconnect: boolean }

export interface NetworkReport { devices: NetworkDevice[]; saved: SavedWifi[] }

export type PowerAction = 'reboot' | 'poweroff';

export interface SystemAdmin {
  network(): Promise<NetworkReport>;
  /** Visible networks; `rescan` asks the radio for a fresh scan (a few seconds) instead of NetworkManager's last one. */
  scan(rescan: boolean): Promise<WifiNetwork[]>;
  /** Adds a profile and activates it; a failed activation removes the new profile again and keeps the old ones. */
  join(w: WifiJoin): Promise<{ uuid: string; device: string }>;
  forget(uuid: string): Promise<void>;
  hostname(): Promise<string>;
  setHostname(name: string): Promise<void>;
  timezone(): Promise<string>;
  timezones(): Promise<string[]>;
  setTimezone(tz: string): Promise<void>;
  power(action: PowerAction): Promise<void>;
}

const WIFI_TYPE = '802-11-wireless';
/** The setup hotspot's own profile (onboard/hotspot.ts): never listed as a saved network, never joined or forgotten here. */
export const SETUP_PROFILE = 'printbox-setup';
/** NetworkManager's words when it got no usable secret (device state reason "no-secrets"). */
const WRONG_SECRET = /secrets were required/i;
/**
 * How long a join may take. NetworkManager 1.52 answers a refused passphrase by asking nmcli's agent
 * again, which repeats the same one: a wrong password shows as nmcli's own timeout, not as an error.
 */
const JOIN_WAIT_S = 40;

/**
 * A passwd-file value as nmcli reads it: C escapes decoded, unescaped spaces at either end stripped.
 * Every backslash and space is escaped, so the passphrase arrives exactly as typed.
 */
export const passwdFileValue = (s: string): string => s.replace(/\\/g, '\\\\').replace(/ /g, '\\040');

/** A 0600 file in a fresh 0700 directory; remove() deletes both. */
function writeSecret(dir: string, text: string): { file: string; remove(): void } {
  const d = fs.mkdtempSync(path.join(dir, 'wifi-'));
  fs.chmodSync(d, 0o700);
  const file = path.join(d, 'passwd');
  fs.writeFileSync(file, text, { mode: 0o600 });
  return { file, remove: () => fs.rmSync(d, { recursive: true, force: true }) };
}

export interface SystemAdminOptions {
  /**
   * Where a Wi-Fi passphrase waits for nmcli's passwd-file, in a 0700 directory, 0600 file, deleted as soon as
   * nmcli is done: a tmpfs (the image: /run/printbox). nmcli cannot read it from stdin, which Node makes a
   * socket (open() of /proc/self/fd/0 is ENXIO on a socket), and argv is out of the question.
   */
  secretDir?: string;
}

export function createSystemAdmin(tool: Tool = execTool, opts: SystemAdminOptions = {}): SystemAdmin {
  const nmcli = (args: string[], opts?: Parameters<Tool>[2]) => tool('nmcli', args, opts);

  async function devices(): Promise<NetworkDevice[]> {
    const out = await nmcli(['-t', '-f', 'GENERAL.DEVICE,GENERAL.TYPE,GENERAL.STATE,GENERAL.CONNECTION,GENERAL.HWADDR,IP4.ADDRESS,IP4.GATEWAY,IP6.ADDRESS', 'device', 'show']);
    return parseBlocks(out).map((b) => ({
      device: b.get('GENERAL.DEVICE')?.[0] ?? '',
      type: b.get('GENERAL.TYPE')?.[0] ?? '',
      state: (b.get('GENERAL.STATE')?.[0] ?? '').replace(/^\d+\s*\((.*)\)$/, '$1'),
      connection: b.get('GENERAL.CONNECTION')?.[0] ?? '',
      mac: b.get('GENERAL.HWADDR')?.[0] ?? '',
      ipv4: b.get('IP4.ADDRESS') ?? [],
      ipv6: b.get('IP6.ADDRESS') ?? [],
      gateway: b.get('IP4.GATEWAY')?.[0] ?? '',
    })).filter((d) => d.device && d.type !== 'loopback');
  }

  async function saved(): Promise<SavedWifi[]> {
    const rows = parseRows(await nmcli(['-t', '-f', 'NAME,UUID,TYPE,AUTOCONNECT,ACTIVE', 'connection', 'show']), ['NAME', 'UUID', 'TYPE', 'AUTOCONNECT', 'ACTIVE'] as const)
      .filter((r) => (r.TYPE === WIFI_TYPE || r.TYPE === 'wifi') && r.NAME !== SETUP_PROFILE);
    // the profile's name is whatever wrote it (Imager, printbox.txt, this page): show the SSID it joins
    return Promise.all(rows.map(async (r) => ({
      uuid: r.UUID,
      name: r.NAME,
      ssid: (await nmcli(['-g', '802-11-wireless.ssid', 'connection', 'show', 'uuid', r.UUID]).catch(() => '')).trim().replace(/\\(.)/g, '$1'),
      active: r.ACTIVE === 'yes',
      autoconnect: r.AUTOCONNECT === 'yes',
    })));
  }

  // one Wi-Fi change at a time: two joins racing would each delete the other's profile as an older duplicate
  let wifiQueue: Promise<unknown> = Promise.resolve();
  const serially = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = wifiQueue.then(fn, fn);
    wifiQueue = run.catch(() => undefined);
    return run;
  };

  const wifiDevice = async () => {
    const d = (await devices()).find((x) => x.type === 'wifi');
    if (!d) throw conflict('no_wifi_device', 'This device has no Wi-Fi adapter that NetworkManager manages');
    return d.device;
  };

  return {
    async network() {
      try { return { devices: await devices(), saved: await saved() }; } catch (e) { throw toolError(e, 'network_unavailable', 'Reading the network state', 503); }
    },
    async scan(rescan) {
      try {
        await wifiDevice();
        return parseScan(await nmcli(['-t', '-f', 'IN-USE,SSID,SIGNAL,SECURITY', 'device', 'wifi', 'list', '--rescan', rescan ? 'yes' : 'auto'], { timeoutMs: 30_000 }));
      } catch (e) { throw toolError(e, 'wifi_scan_failed', 'Scanning for Wi-Fi networks'); }
    },
    join: (w) => serially(async () => {
      const device = await wifiDevice().catch((e: unknown) => { throw toolError(e, 'wifi_join_failed', 'Joining the Wi-Fi network'); });
      const before = await saved().catch(() => []);
      const uuid = crypto.randomUUID();
      const add = ['connection', 'add', 'type', 'wifi', 'ifname', device, 'con-name', w.ssid, 'connection.uuid', uuid, 'ssid', w.ssid, 'connection.autoconnect', 'yes'];
      if (w.hidden) add.push('802-11-wireless.hidden', 'yes');
      if (w.psk) add.push('wifi-sec.key-mgmt', 'wpa-psk');
      try { await nmcli(add); } catch (e) { throw toolError(e, 'wifi_join_failed', `Saving the network "${w.ssid}"`); }
      // The PSK reaches NetworkManager through nmcli's secret agent from a passwd-file, never in argv;
      // NetworkManager stores it in the profile (root-only keyfile) once the activation asked for it and got it.
      const secret = w.psk ? writeSecret(opts.secretDir ?? os.tmpdir(), `802-11-wireless-security.psk:${passwdFileValue(w.psk)}\n`) : undefined;
      const up = ['--wait', String(JOIN_WAIT_S), 'connection', 'up', 'uuid', uuid, ...(secret ? ['passwd-file', secret.file] : [])];
      try {
        await nmcli(up, { timeoutMs: (JOIN_WAIT_S + 15) * 1000 });
      } catch (e) {
        // NetworkManager saved whatever the activation was given, right or wrong: the profile goes again
        await nmcli(['connection', 'delete', 'uuid', uuid]).catch(() => undefined);
        const err = toolError(e, 'wifi_join_failed', `Joining "${w.ssid}"`, 409);
        if (err.code !== 'wifi_join_failed') throw err;
        if (WRONG_SECRET.test(err.message)) throw conflict('wifi_wrong_password', `Joining "${w.ssid}" failed: the password was not accepted`);
        if (/timeout expired/i.test(err.message)) {
          throw conflict('wifi_join_timeout', `Joining "${w.ssid}" did not succeed within ${JOIN_WAIT_S} s: check the password, and that the network is in range`);
        }
        throw err;
      } finally { secret?.remove(); }
      // the new profile works: older profiles for the same SSID would only compete with it
      for (const old of before.filter((s) => s.ssid === w.ssid)) await nmcli(['connection', 'delete', 'uuid', old.uuid]).catch(() => undefined);
      return { uuid, device };
    }),
    forget: (uuid) => serially(async () => {
      const list = await saved().catch((e: unknown) => { throw toolError(e, 'network_unavailable', 'Reading the saved networks', 503); });
      if (!list.some((s) => s.uuid === uuid)) throw notFound('Saved Wi-Fi network');
      try { await nmcli(['connection', 'delete', 'uuid', uuid]); } catch (e) { throw toolError(e, 'wifi_forget_failed', 'Forgetting the network'); }
    }),
    async hostname() {
      try { return (await tool('hostnamectl', ['hostname'])).trim(); } catch (e) { throw toolError(e, 'hostname_unavailable', 'Reading the hostname', 503); }
    },
    async setHostname(name) {
      try { await tool('hostnamectl', ['--static', '--transient', 'set-hostname', name]); } catch (e) { throw toolError(e, 'hostname_failed', 'Setting the hostname'); }
    },
    async timezone() {
      try { return (await tool('timedatectl', ['show', '-p', 'Timezone', '--value'])).trim(); } catch (e) { throw toolError(e, 'timezone_unavailable', 'Reading the timezone', 503); }
    },
    async timezones() {
      try { return (await tool('timedatectl', ['list-timezones'])).split('\n').filter(Boolean); } catch (e) { throw toolError(e, 'timezone_unavailable', 'Listing the timezones', 503); }
    },
    async setTimezone(tz) {
      try { await tool('timedatectl', ['set-timezone', tz]); } catch (e) { throw toolError(e, 'timezone_failed', 'Setting the timezone'); }
    },
    async power(action) {
      try { await tool('systemctl', ['--no-ask-password', action]); } catch (e) { throw toolError(e, 'power_failed', action === 'reboot' ? 'Restarting' : 'Shutting down'); }
    },
  };
}
