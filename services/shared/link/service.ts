/**
 * Cloud link use cases shared by the web API, the `printbox` CLI and printbox-firstboot:
 * link (email+password or link token), offline mode, unlink / switch account, autologin from the
 * stored device token, and owner verification (online, falling back to the cached argon2id verifier).
 */
import argon2 from 'argon2';
import { AppError, conflict, unauthorized } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { CloudClient, DeviceInfo, LinkCredentials, Owner } from '../cloud-client.ts';
import type { FirstbootRecord, LinkStateName, LinkStore } from './store.ts';

/** Asks the printer service whether anything is printing; throws AppError 503 when it is down. */
export type ActivePrints = () => Promise<{ active: boolean; printers: string[] }>;

export interface CloudLinkDeps {
  store: LinkStore;
  /**
   * A client for `url` (the cloud a device was linked to, or one named in printbox.txt), or for the
   * configured PRINTBOX_CLOUD_URL when url is undefined; null when there is none (offline still works).
   */
  cloud: (url?: string) => CloudClient | null;
  device: () => DeviceInfo;
  activePrints: ActivePrints;
  log: Logger;
}

export interface CloudStatus {
  state: LinkStateName;
  owner?: Owner;
  /** Whether the cloud accepted our device token at the last check (only when linked). */
  connected?: boolean;
  firstboot?: FirstbootRecord;
  /** False when no cloud URL is configured: linking cannot work, so the UI offers no link form. */
  cloud_configured: boolean;
}

// OWASP's argon2id baseline (19 MiB, t=2): affordable on a Pi Zero 2 W, where 64 MiB would hurt.
const ARGON = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
const same = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();

export class CloudLink {
  private connected: boolean | undefined;
  constructor(private readonly deps: CloudLinkDeps) {}

  status(): CloudStatus {
    const r = this.deps.store.read();
    const fb = this.deps.store.readFirstboot();
    return {
      state: r.state,
      ...(r.owner && r.state === 'linked' ? { owner: r.owner } : {}),
      ...(r.state === 'linked' && this.connected !== undefined ? { connected: this.connected } : {}),
      ...(fb ? { firstboot: fb } : {}),
      cloud_configured: this.deps.cloud() !== null,
    };
  }

  private requireCloud(url?: string): CloudClient {
    const c = this.deps.cloud(url);
    if (!c) throw new AppError('cloud_not_configured', 503, 'No cloud is configured on this device (PRINTBOX_CLOUD_URL)');
    return c;
  }

  /** Refuses while anything prints: unlinking or switching must never interrupt a running print. */
  private async assertNotPrinting(action: string): Promise<void> {
    let res: { active: boolean; printers: string[] };
    try {
      res = await this.deps.activePrints();
    } catch (err) {
      const e = err instanceof AppError ? err : undefined;
      throw new AppError('printer_service_unavailable', 503,
        `Cannot ${action} now: the printer service is not answering${e ? ` (${e.message})` : ''}, so PrintBox cannot tell whether a print is running. Try again when it is back.`);
    }
    if (res.active) {
      throw conflict('printing', `Cannot ${action} while printing (${res.printers.join(', ')}). Wait until the print finishes or cancel it, then try again.`);
    }
  }

  /** Links (or switches to) a cloud account. Switching accounts counts as unlinking the old one. */
  async link(creds: LinkCredentials, opts: { cloudUrl?: string } = {}): Promise<CloudStatus> {
    const cloud = this.requireCloud(opts.cloudUrl);
    const before = this.deps.store.read();
    const oldToken = before.state === 'linked' ? this.deps.store.token() : undefined;
    if (oldToken) await this.assertNotPrinting('switch the cloud account');
    const res = await cloud.link(creds, this.deps.device());
    const verifier = 'password' in creds ? await argon2.hash(creds.password, ARGON) : undefined;
    this.deps.store.saveLinked(res.owner, res.device_token, cloud.url, verifier);
    this.connected = true;
    this.deps.log.info('linked to cloud', { owner: res.owner.email, via: 'password' in creds ? 'password' : 'link_token' });
    const oldCloud = oldToken ? this.deps.cloud(before.cloudUrl) : null;
    if (oldToken && oldCloud && (before.owner?.id !== res.owner.id || before.cloudUrl !== cloud.url)) {
      // The old account's record of this device is stale now; failing to tell it is not fatal.
      await oldCloud.unlink(oldToken).catch((e: unknown) => this.deps.log.warn('could not unlink the previous account', { error: (e as Error).message }));
    }
    return this.status();
  }

  async unlink(): Promise<CloudStatus & { cloud_notified: boolean }> {
    const r = this.deps.store.read();
    if (r.state !== 'linked') return { ...this.status(), cloud_notified: false };
    await this.assertNotPrinting('unlink from the cloud');
    const token = this.deps.store.token();
    let notified = false;
    try {
      const cloud = this.deps.cloud(r.cloudUrl);
      if (token && cloud) { await cloud.unlink(token); notified = true; }
    } catch (e) {
      // A revoked token means the cloud already forgot us; unreachable means it will learn later.
      this.deps.log.warn('cloud not told about the unlink', { error: (e as Error).message });
    }
    this.deps.store.saveState('unlinked');
    this.connected = undefined;
    this.deps.log.info('unlinked from cloud', { owner: r.owner?.email, cloud_notified: notified });
    return { ...this.status(), cloud_notified: notified };
  }

  /** Offline mode: no cloud at all. From "linked" this unlinks first (same printing rule). */
  async goOffline(): Promise<CloudStatus> {
    if (this.deps.store.read().state === 'linked') await this.unlink();
    this.deps.store.saveState('offline');
    this.deps.log.info('offline mode');
    return this.status();
  }

  /** Autologin after a restart: the stored device token is all we need; no credentials are asked again. */
  async resume(): Promise<CloudStatus> {
    const r = this.deps.store.read();
    const token = this.deps.store.token();
    const cloud = this.deps.cloud(r.cloudUrl);
    if (r.state !== 'linked' || !token || !cloud) return this.status();
    try {
      await cloud.self(token);
      this.connected = true;
      this.deps.log.info('cloud session resumed from the stored device token', { owner: r.owner?.email });
    } catch (e) {
      const err = e as AppError;
      if (err.code === 'cloud_rejected') {
        this.deps.log.warn('the cloud no longer knows this device (unlinked elsewhere); now unlinked');
        this.deps.store.saveState('unlinked');
        this.connected = undefined;
      } else {
        this.connected = false;
        this.deps.log.warn('cloud not reachable; staying linked, owner logins use the cached verifier', { error: err.message });
      }
    }
    return this.status();
  }

  /**
   * Owner login: only the linked owner, checked online; if the cloud is unreachable, against the
   * argon2id verifier cached at the last successful online check. Every refusal is the same 401.
   */
  async verifyOwner(email: string, password: string): Promise<Owner> {
    const r = this.deps.store.read();
    const token = this.deps.store.token();
    if (r.state !== 'linked' || !r.owner || !token || !same(email, r.owner.email)) throw unauthorized();
    try {
      await this.requireCloud(r.cloudUrl).verifyOwner(token, r.owner.email, password);
    } catch (e) {
      const err = e as AppError;
      if (err.code !== 'cloud_unreachable' && err.code !== 'cloud_not_configured') throw unauthorized();
      this.connected = false;
      if (!r.verifier || !(await argon2.verify(r.verifier, password).catch(() => false))) throw unauthorized();
      this.deps.log.info('owner login checked against the cached verifier (cloud unreachable)');
      return r.owner;
    }
    this.connected = true;
    // Refresh the cache so a later offline login accepts the password the cloud accepted today.
    if (!r.verifier || !(await argon2.verify(r.verifier, password).catch(() => false))) {
      this.deps.store.saveVerifier(await argon2.hash(password, ARGON));
    }
    return r.owner;
  }
}
