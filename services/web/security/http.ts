/**
 * Small helpers the security routes share: the Security object from deps (503 when the web runs
 * without it) and "which account is this" checks. Audit records come from the generic hook in
 * mount.ts (security/audit-http.ts), so these routes do not write their own.
 */
import type { Request } from 'express';
import { AppError, badRequest } from '../../shared/errors.ts';
import type { WebDeps } from '../deps.ts';
import type { Principal } from '../permissions.ts';
import type { Security } from './index.ts';

export function sec(deps: WebDeps): Security {
  if (!deps.security) throw new AppError('security_unavailable', 503, 'Account security features are not enabled');
  return deps.security;
}

/** TOTP and "your sessions" belong to people who sign in, not to API keys or the local console. */
export function account(p: Principal | null): { username: string; method: 'pam' | 'cloud' } {
  if (!p || (p.method !== 'pam' && p.method !== 'cloud')) throw badRequest('no_account', 'Only a signed-in user account has this');
  return { username: p.user, method: p.method };
}

export const peer = (req: Request): string => req.socket.remoteAddress ?? 'unknown';

/** A route parameter that must be a short plain string (no NUL, bounded length). */
export function param(req: Request, name: string, max = 256): string {
  const v = req.params[name];
  if (typeof v !== 'string' || v.length === 0 || v.length > max || /[\u0000-\u001f\u007f]/.test(v)) throw badRequest('invalid_parameter', `Invalid ${name}`);
  return v;
}
