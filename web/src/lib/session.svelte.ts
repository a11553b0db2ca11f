/** Who is signed in; null until GET /api/auth/session answers. */
import { get, post, setUnauthorizedHandler } from './api.ts';
import { disconnectLive } from './live.svelte.ts';
import type { Session } from './types.ts';

export const auth = $state({ session: null as Session | null, checked: false });

export async function refreshSession(): Promise<void> {
  try {
    auth.session = await get<Session>('/api/auth/session', { quiet401: true });
  } catch {
    auth.session = null;
  } finally {
    auth.checked = true;
  }
}

export async function signOut(): Promise<void> {
  // Stop the live stream and polling first: a request still in flight while the server ends the
  // session must not be the last word on it.
  disconnectLive();
  try { await post('/api/auth/logout'); } catch { /* the session is gone either way */ }
  auth.session = null;
}

setUnauthorizedHandler(() => { auth.session = null; });

import { BUILTIN_ROLES, type Permission } from '../../../services/shared/permissions.ts';

/** Hides controls the role lacks; the server enforces it regardless. Unknown (custom) roles see everything. */
export function can(p: Permission): boolean {
  const s = auth.session;
  if (!s) return false;
  if (s.method === 'local') return true;
  const perms = BUILTIN_ROLES[s.role];
  return perms ? perms.includes(p) : true;
}
