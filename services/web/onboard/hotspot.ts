/**
 * The setup hotspot as NetworkManager runs it: an open access point "PrintBox-XXXX" on the Wi-Fi radio with
 * `ipv4.method shared` (NetworkManager's dnsmasq hands out addresses; the image's dnsmasq-shared.d file
 * answers every DNS name with the device and announces the portal, RFC 8910). Profile name and address
 * are fixed so the portal can tell its own requests by the address they arrived on.
 */
import fs from 'node:fs';
import { SETUP_PROFILE } from '../system/admin.ts';
import { parseRows } from '../system/nmcli.ts';
import type { Tool } from '../../shared/tools.ts';

/** The device's address on its own hotspot (NetworkManager's shared-mode default network is 10.42.0.0/24). */
export const HOTSPOT_ADDRESS = '10.42.0.1';

/**
 * "PrintBox-" and the last four hex digits of the board's serial number (the device tree's serial-number on
 * a Pi), else of the machine id: stable per device, and what a label or the console can show.
 */
export function hotspotSsid(read: (file: string) => string = (f) => fs.readFileSync(f, 'utf8')): string {
  for (const f of ['/sys/firmware/devicetree/base/serial-number', '/etc/machine-id']) {
    try {
      const hex = read(f).replace(/[^0-9a-fA-F]/g, '');
      if (hex.length >= 4 && !/^0+$/.test(hex)) return `PrintBox-${hex.slice(-4).toUpperCase()}`;
    } catch { /* next source */ }
  }
  return 'PrintBox-0000';
}

export interface LinkState {
  /** A wired or Wi-Fi connection other than the hotspot is up. */
  connected: boolean;
  /** The Wi-Fi device NetworkManager manages, if any. */
  wifi: string | undefined;
  hotspotUp: boolean;
}

export interface Hotspot {
  state(): Promise<LinkState>;
  start(device: string, ssid: string): Promise<void>;
  stop(): Promise<void>;
}

export function createHotspot(tool: Tool): Hotspot {
  const nmcli = (args: string[], timeoutMs = 15_000) => tool('nmcli', args, { timeoutMs });
  return {
    async state() {
      const rows = parseRows(await nmcli(['-t', '-f', 'DEVICE,TYPE,STATE,CONNECTION', 'device', 'status']), ['DEVICE', 'TYPE', 'STATE', 'CONNECTION'] as const);
      const up = (r: (typeof rows)[number]) => r.STATE === 'connected';
      return {
        connected: rows.some((r) => (r.TYPE === 'ethernet' || r.TYPE === 'wifi') && up(r) && r.CONNECTION !== SETUP_PROFILE),
        wifi: rows.find((r) => r.TYPE === 'wifi')?.DEVICE,
        hotspotUp: rows.some((r) => r.CONNECTION === SETUP_PROFILE && up(r)),
      };
    },
    async start(device, ssid) {
      // made afresh each time: the radio's name or the SSID may differ from the last boot
      await nmcli(['connection', 'delete', 'id', SETUP_PROFILE]).catch(() => undefined);
      await nmcli(['connection', 'add', 'type', 'wifi', 'ifname', device, 'con-name', SETUP_PROFILE, 'ssid', ssid,
        'connection.autoconnect', 'no', '802-11-wireless.mode', 'ap', '802-11-wireless.band', 'bg',
        'ipv4.method', 'shared', 'ipv4.addresses', `${HOTSPOT_ADDRESS}/24`, 'ipv6.method', 'disabled']);
      await nmcli(['--wait', '30', 'connection', 'up', 'id', SETUP_PROFILE], 45_000);
    },
    async stop() {
      await nmcli(['--wait', '15', 'connection', 'down', 'id', SETUP_PROFILE], 25_000).catch(() => undefined);
    },
  };
}
