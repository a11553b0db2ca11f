/**
 * In the web: the OwnerVerifier (owner.ts) backed by the cloud link: the linked owner from the link store, checked
 * online with verify-owner and offline against the cached argon2id verifier (shared/link/service.ts).
 */
import fs from 'node:fs';
import { AppError } from '../shared/errors.ts';
import { cloudClientFactory } from '../shared/cloud-client.ts';
import type { Logger } from '../shared/log.ts';
import { deviceInfo } from '../shared/link/device.ts';
import { CloudLink, type ActivePrints } from '../shared/link/service.ts';
import { LinkStore } from '../shared/link/store.ts';
import type { OwnerVerifier } from './owner.ts';

export function cloudOwnerVerifier(link: CloudLink): OwnerVerifier {
  return {
    linkedOwner: async () => {
      const s = link.status();
      return s.state === 'linked' && s.owner ? { email: s.owner.email } : null;
    },
    verify: async (email, password) => {
      try {
        await link.verifyOwner(email, password);
        return true;
      } catch (e) {
        if (e instanceof AppError && e.status === 401) return false;
        throw e;
      }
    },
  };
}

export interface WebCloudOptions {
  dataDir: string;
  /** PRINTBOX_CLOUD_URL; empty = no default cloud. */
  cloudUrl: string;
  /** PRINTBOX_CLOUD_CA: path of an extra PEM CA file; empty = system CAs only. */
  cloudCa: string;
  version: string;
  log: Logger;
  activePrints: ActivePrints;
}

/** Builds the web's CloudLink (main.ts calls this, then resume() once listening for autologin). */
export function createWebCloudLink(o: WebCloudOptions): CloudLink {
  let extraCa: string | undefined;
  try { if (o.cloudCa) extraCa = fs.readFileSync(o.cloudCa, 'utf8'); } catch (e) {
    // A bad path must not take the whole UI down; linking then fails with a clear TLS error.
    o.log.error(`config: PRINTBOX_CLOUD_CA unreadable, using system CAs only: ${(e as Error).message}`);
  }
  const cloud = cloudClientFactory({
    ...(o.cloudUrl ? { defaultUrl: o.cloudUrl } : {}),
    ...(extraCa ? { extraCa } : {}),
    log: o.log, attempts: 2, timeoutMs: 8000,
  });
  return new CloudLink({ store: new LinkStore(o.dataDir), cloud, device: deviceInfo(o.version), activePrints: o.activePrints, log: o.log });
}
