/**
 * Who is asking (CONTRACT.md): a signed-in session, an API key, or the machine itself. "Local" is
 * decided ONLY by the TCP peer address of the socket — never X-Forwarded-For, Forwarded or Host,
 * and `trust proxy` is never set — so nothing a remote client writes can make it local.
 */
import type { Request } from 'express';
import { AppError } from '../shared/errors.ts';
import type { WebDeps } from './deps.ts';
import { permissionsOf } from '../shared/permissions.ts';
import type { Principal } from './permissions.ts';
import { refuseQueryCredentials } from './security/index.ts';
import { currentAuth, destroy, type SessionAuth } from './sessions/cookie.ts';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

export const isLocalSocket = (req: Request): boolean => LOOPBACK.has(req.socket.remoteAddress ?? '');

/** The password, lock or groups of a PAM account changed since login (account-check.ts). */
export async function endChangedSession(req: Request, deps: WebDeps, user: string): Promise<void> {
  const sid = req.sessionID;
  deps.accountCheck?.forget(sid);
  await deps.security?.sessions.forget(sid);
  await destroy(req);
  await deps.audit?.record({ actor: user, method: 'pam', ip: req.socket.remoteAddress ?? 'unknown', action: 'auth.session_ended', outcome: 'success', details: { reason: 'account changed' } });
}

const rolePermissions = (deps: WebDeps, role: string) => deps.roles ? deps.roles.permissionsOf(role) : Promise.resolve(permissionsOf(role));

/** What a signed-in session may do right now: its role and permissions are looked up on every call, not kept from login. */
export async function principalForSession(auth: SessionAuth, deps: WebDeps): Promise<Principal> {
  if (deps.security) return deps.security.principalForUser({ username: auth.user, method: auth.method, groups: auth.groups });
  return { user: auth.user, method: auth.method, role: auth.role, permissions: await rolePermissions(deps, auth.role) };
}

export async function resolvePrincipal(req: Request, deps: WebDeps): Promise<Principal | null> {
  refuseQueryCredentials(req.query as Record<string, unknown>); // keys only in Authorization (CONTRACT)
  let auth = await currentAuth(req, deps);
  // like an idle-expired session, an ended one makes this request anonymous (so 401 on non-public routes)
  if (auth?.accountStamp && deps.accountCheck && !(await deps.accountCheck.stillValid(req.sessionID, auth.user, auth.accountStamp))) {
    await endChangedSession(req, deps, auth.user);
    auth = undefined;
  }
  if (auth) {
    await deps.security?.sessions.touch(req.sessionID, req.socket.remoteAddress ?? 'unknown');
    return principalForSession(auth, deps);
  }
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer ([\x21-\x7e]{1,512})$/.exec(header);
    if (!m) throw new AppError('unauthorized', 401, 'Malformed Authorization header');
    if (!deps.apiKeys) throw new AppError('unauthorized', 401, 'API keys are not enabled');
    return deps.apiKeys.authenticate(m[1]!);
  }
  if (isLocalSocket(req)) return { user: 'local', method: 'local', role: 'admin', permissions: await rolePermissions(deps, 'admin') };
  return null;
}
