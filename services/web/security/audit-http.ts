/**
 * One audit record per state-changing API request (printer commands, link/unlink,
 * settings changes, and every other mutation), hooked once in the generic route mount so no
 * area can forget it. Recorded when the response finishes: outcome from the status code, the
 * route pattern as action, path parameters and the JSON body as details — through scrub(), so
 * passwords, tokens and codes never land in the log.
 */
import type { Request, Response } from 'express';
import type { AuditSink } from '../deps.ts';
import type { Principal } from '../permissions.ts';
import type { Route } from '../route-types.ts';
import type { AuditOutcome } from './audit.ts';

const MUTATING = new Set(['post', 'put', 'patch', 'delete']);

/** Public routes (login/logout) are audited by their handlers with what they know (e.g. lockouts). */
export const isAudited = (route: Pick<Route<unknown>, 'method' | 'access'>): boolean => MUTATING.has(route.method) && route.access !== 'public';

export function outcomeOf(status: number): AuditOutcome {
  if (status < 400) return 'success';
  return status === 401 || status === 403 ? 'denied' : 'failure';
}

export function auditOnFinish(sink: AuditSink | undefined, route: Pick<Route<unknown>, 'method' | 'path' | 'access'>, req: Request, res: Response, onError: (e: unknown) => void): void {
  if (!sink || !isAudited(route)) return;
  res.on('finish', () => {
    const p = res.locals.principal as Principal | null | undefined;
    const body = typeof req.body === 'object' && req.body !== null && !Array.isArray(req.body) ? req.body as Record<string, unknown> : undefined;
    sink.record({
      actor: p?.user ?? 'anonymous',
      method: p?.method ?? 'anonymous',
      ip: req.socket.remoteAddress ?? 'unknown',
      action: `${route.method.toUpperCase()} ${route.path}`,
      target: Object.values(req.params ?? {}).join('/'),
      outcome: outcomeOf(res.statusCode),
      details: { status: res.statusCode, ...(Object.keys(req.params ?? {}).length ? { params: { ...req.params } } : {}), ...(body ? { body } : {}) },
    }).catch(onError);
  });
}
