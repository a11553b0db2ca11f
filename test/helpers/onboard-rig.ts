/**
 * Wi-Fi onboarding's supervisor on a clock the test moves, with one radio and a cable that behave like
 * NetworkManager's (one radio: scanning and joining need the hotspot closed). Records what was asked of them.
 */
import assert from 'node:assert/strict';
import type { AppError } from '../../services/shared/errors.ts';
import { createLogger } from '../../services/shared/log.ts';
import type { Hotspot, LinkState } from '../../services/web/onboard/hotspot.ts';
import { OnboardSupervisor } from '../../services/web/onboard/supervisor.ts';
import type { SystemAdmin } from '../../services/web/system/admin.ts';
import type { WifiNetwork } from '../../services/web/system/nmcli.ts';
import type { WifiJoin } from '../../services/web/system/validate.ts';

const log = createLogger({ scope: 'test', level: 'error' });

/** `opts` stays live: a test may make the next join fail (a wrong password) or succeed. */
export function rig(opts: { wifi?: boolean; joinFails?: AppError; networks?: WifiNetwork[] } = {}) {
  const link = { cable: false, wifiUp: false, hotspotUp: false };
  const calls: string[] = [];
  let clock = 0;
  const hotspot: Hotspot = {
    state: async (): Promise<LinkState> => ({ connected: link.cable || link.wifiUp, wifi: opts.wifi === false ? undefined : 'wlan0', hotspotUp: link.hotspotUp }),
    start: async (device, ssid) => { calls.push(`start ${device} ${ssid}`); link.hotspotUp = true; },
    stop: async () => { calls.push('stop'); link.hotspotUp = false; },
  };
  const admin = {
    scan: async () => { assert.equal(link.hotspotUp, false, 'a scan needs the radio out of access-point mode'); calls.push('scan'); return opts.networks ?? [{ ssid: 'Home', signal: 70, security: 'WPA2', inUse: false }]; },
    join: async (w: WifiJoin) => {
      assert.equal(link.hotspotUp, false, 'a join needs the radio out of access-point mode');
      calls.push(`join ${w.ssid}`);
      if (opts.joinFails) throw opts.joinFails;
      link.wifiUp = true;
      return { uuid: 'u', device: 'wlan0' };
    },
  } as unknown as SystemAdmin;
  const sup = new OnboardSupervisor({ hotspot, admin, ssid: 'PrintBox-AB12', afterS: 120, retryS: 300, rejoinS: 45, log, now: () => clock });
  const at = async (s: number) => { clock = s * 1000; await sup.tick(); };
  const settle = async () => { for (let i = 0; i < 50 && sup.status().phase === 'joining'; i++) await new Promise((r) => setTimeout(r, 5)); };
  return { sup, link, calls, at, settle };
}

