/**
 * Wi-Fi onboarding without a computer. When neither a cable nor a known Wi-Fi network gives the device a
 * connection for `afterS` seconds, it opens its setup hotspot; a phone that joins it is sent to the portal
 * (portal.ts), which lists the networks scanned just before and takes a password. One radio cannot scan or
 * join while it is an access point, so:
 * - the scan is taken before the hotspot opens (and again at each retry);
 * - a join closes the hotspot, tries the network, and opens the hotspot again with the reason if it fails;
 * - every `retryS` without portal use the hotspot closes for a while so NetworkManager can rejoin a known
 *   network that came back (a router that was off when the Pi booted); a cable ends the hotspot at once.
 */
import type { Logger } from '../../shared/log.ts';
import type { SystemAdmin } from '../system/admin.ts';
import type { WifiNetwork } from '../system/nmcli.ts';
import type { WifiJoin } from '../system/validate.ts';
import type { Hotspot } from './hotspot.ts';

export type OnboardPhase = 'watching' | 'hotspot' | 'joining' | 'retrying' | 'connected';

export interface JoinResult { ssid: string; ok: boolean; code?: string; message: string; at: number }

export interface OnboardStatus {
  phase: OnboardPhase;
  /** The hotspot's SSID (open network). */
  hotspot: string;
  /** Networks in range, from the scan before the hotspot opened. */
  networks: WifiNetwork[];
  /** The last join tried through the portal. */
  last?: JoinResult;
}

export interface OnboardOptions {
  hotspot: Hotspot;
  admin: SystemAdmin;
  ssid: string;
  afterS: number;
  retryS: number;
  log: Logger;
  /** How long a retry waits for NetworkManager to rejoin a known network on its own. */
  rejoinS?: number;
  tickMs?: number;
  now?: () => number;
}

export class OnboardSupervisor {
  private phase: OnboardPhase = 'watching';
  private networks: WifiNetwork[] = [];
  private last: JoinResult | undefined;
  private readonly now: () => number;
  private offlineSince: number;
  private hotspotSince = 0;
  private retryUntil = 0;
  private portalAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(private readonly o: OnboardOptions) {
    this.now = o.now ?? Date.now;
    this.offlineSince = this.now();
  }

  start(): void {
    // connected, a look every 30 s is enough: each look starts an nmcli process
    const next = () => (this.phase === 'connected' ? 30_000 : this.o.tickMs ?? 5000);
    const tick = () => { void this.tick().finally(() => { if (this.timer) this.timer = setTimeout(tick, next()); }); };
    this.timer = setTimeout(tick, 0);
  }

  stop(): void { clearTimeout(this.timer); this.timer = undefined; }

  status(): OnboardStatus {
    return { phase: this.phase, hotspot: this.o.ssid, networks: this.networks, ...(this.last ? { last: this.last } : {}) };
  }

  /** True while the portal may answer (its requests arrive on the hotspot's address only then). */
  portalOpen(): boolean { return this.phase === 'hotspot' || this.phase === 'joining'; }

  /** Someone is using the portal: the periodic retry waits, so their phone is not dropped. */
  touch(): void { this.portalAt = this.now(); }

  /** One evaluation; `start()` runs it every tick. Public for tests that drive the clock. */
  async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try { await this.step(); } catch (e) { this.o.log.warn('onboarding: step failed', { phase: this.phase, error: String(e) }); } finally { this.busy = false; }
  }

  /**
   * Closes the hotspot and joins `w` in the background; the portal answers first, as the phone loses the
   * hotspot a moment later. A failure opens the hotspot again with the reason in status().last.
   */
  join(w: WifiJoin): void {
    this.phase = 'joining';
    this.o.log.info('onboarding: joining a network from the setup portal', { ssid: w.ssid });
    void (async () => {
      while (this.busy) await new Promise((r) => setTimeout(r, 100));
      this.busy = true;
      try {
        await this.o.hotspot.stop();
        await this.o.admin.join(w);
        this.last = { ssid: w.ssid, ok: true, message: `Joined "${w.ssid}"`, at: this.now() };
        this.phase = 'connected';
        this.o.log.info('onboarding: joined; setup hotspot closed', { ssid: w.ssid });
      } catch (e) {
        const err = e as { code?: string; message?: string };
        this.last = { ssid: w.ssid, ok: false, ...(err.code ? { code: err.code } : {}), message: err.message ?? String(e), at: this.now() };
        this.o.log.warn('onboarding: join failed; setup hotspot again', { ssid: w.ssid, code: err.code, error: err.message });
        await this.open().catch((x: unknown) => this.o.log.error('onboarding: the hotspot did not come back', { error: String(x) }));
      } finally { this.busy = false; }
    })();
  }

  private async step(): Promise<void> {
    const s = await this.o.hotspot.state();
    const t = this.now();
    if (s.connected) {
      if (this.phase === 'hotspot') await this.o.hotspot.stop();
      if (this.phase !== 'connected') this.o.log.info('onboarding: connected; no setup hotspot needed');
      this.phase = 'connected';
      this.offlineSince = t;
      return;
    }
    switch (this.phase) {
      case 'connected':
        this.phase = 'watching';
        this.offlineSince = t;
        return;
      case 'watching':
        if (s.wifi && t - this.offlineSince >= this.o.afterS * 1000) await this.open(s.wifi);
        return;
      case 'hotspot':
        if (!s.hotspotUp) { await this.open(s.wifi); return; }
        if (t - this.hotspotSince >= this.o.retryS * 1000 && t - this.portalAt >= 120_000) {
          this.o.log.info('onboarding: closing the setup hotspot for a while to look for known networks');
          await this.o.hotspot.stop();
          this.phase = 'retrying';
          this.retryUntil = t + (this.o.rejoinS ?? 45) * 1000;
        }
        return;
      case 'retrying':
        if (t >= this.retryUntil) await this.open(s.wifi);
        return;
      case 'joining':
        return;
    }
  }

  private async open(device?: string): Promise<void> {
    const wifi = device ?? (await this.o.hotspot.state()).wifi;
    if (!wifi) { this.phase = 'watching'; return; }
    this.networks = await this.o.admin.scan(true).catch(() => this.networks);
    try { await this.o.hotspot.start(wifi, this.o.ssid); } catch (e) {
      // try again after another full wait, not on every tick
      this.phase = 'watching';
      this.offlineSince = this.now();
      throw e;
    }
    this.phase = 'hotspot';
    this.hotspotSince = this.now();
    this.o.log.warn('onboarding: no network; setup hotspot open', { ssid: this.o.ssid, networks: this.networks.length });
  }
}
