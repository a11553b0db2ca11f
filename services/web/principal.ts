/**
 * Who is asking (CONTRACT.md): a signed-in session, an API key, or the machine itself. "Local" is
 * decided ONLY by the TCP peer address of the socket — never X-Forwarded-For, Forwarded or Host,
 * and `trust proxy` is never set — so nothing a remote client writes can make it local.
 */
import type { Request } from 'express';
import { AppError } from '../shared/errors.ts';
import type { WebDeps } from './deps.ts';
import { permissionsOf, type Principal } from './permissions.ts';
import { refuseQueryCredentials } from './security/index.ts';
import { currentAuth } from './session.ts';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

export const isLocalSocket = (req: Request): boolean => LOOPBACK.has(req.socket.remoteAddress ?? '');

export async function resolvePrincipal(req: Request, deps: WebDeps): Promise<Principal | null> {
  const perms = (role: string) => deps.roles ? deps.roles.permissionsOf(role) : Promise.resolve(permissionsOf(role));
  refuseQueryCredentials(req.query as Record<string, unknown>); // keys only in Authorization (CONTRACT)
  const auth = await currentAuth(req, deps);
  if (auth && deps.security) {
    await deps.security.sessions.touch(req.sessionID, req.socket.remoteAddress ?? 'unknown');
    return deps.security.principalForUser({ username: auth.user, method: auth.method, groups: auth.groups });
  }
  if (auth) return { user: auth.user, method: auth.method, role: auth.role, permissions: await perms(auth.role) };
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer ([\x21-\x7e]{1,512})$/.exec(header);
    if (!m) throw new AppError('unauthorized', 401, 'Malformed Authorization header');
    if (!deps.apiKeys) throw new AppError('unauthorized', 401, 'API keys are not enabled');
    return deps.apiKeys.authenticate(m[1]!);
  }
  if (isLocalSocket(req)) return { user: 'local', method: 'local', role: 'admin', permissions: await perms('admin') };
  return null;
}
