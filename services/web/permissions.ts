/** Who is making a request, as every route handler sees it (the role model is in services/shared/permissions.ts). */
import type { Permission } from '../shared/permissions.ts';

/** Who is making a request. `local` = the machine itself (socket address 127.0.0.1/::1 only). */
export interface Principal {
  user: string;
  method: 'pam' | 'cloud' | 'local' | 'apikey';
  role: string;
  permissions: ReadonlySet<Permission>;
  /** method 'apikey' only: which key, and when it expires (ms epoch), so what outlives the request (an event stream) can end with it. */
  apiKey?: { id: number; expiresAt: number | null };
}
