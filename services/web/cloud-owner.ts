/**
 * OwnerVerifier (owner.ts) backed by the cloud link: the linked owner from the link store, checked
 * online with verify-owner and offline against the cached argon2id verifier (shared/link/service.ts).
 */
import { AppError } from '../shared/errors.ts';
import type { CloudLink } from '../shared/link/service.ts';
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
