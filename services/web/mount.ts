/**
 * The one generic mount for the route table (STYLE.md: path → permission → thin handler → shared
 * error handler). Per route, in this order: who is asking and may they (before any body is read),
 * then the body rules (JSON-only for state changes, per-route size limit), then the handler.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { AppError, toAppError } from '../shared/errors.ts';
import type { Logger } from '../shared/log.ts';
import type { WebDeps } from './deps.ts';
import type { Principal } from './permissions.ts';
import { resolvePrincipal } from './principal.ts';
import type { Access, Route } from './route-types.ts';
import { auditOnFinish } from './security/audit-http.ts';

export const DEFAULT_JSON_LIMIT = 16 * 1024;
const MUTATING = new Set(['post', 'put', 'patch', 'delete']);

function checkAccess(access: Access, principal: Principal | null): void {
  if (access === 'public') return;
  if (!principal) throw new AppError('unauthorized', 401, 'Sign in first');
  if (access === 'authenticated') return;
  if (!principal.permissions.has(access)) throw new AppError('forbidden', 403, `Missing permission ${access}`);
}

const hasBody = (req: Request) => Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;

/** CSRF (CONTRACT.md): a cross-site form can send text/plain or multipart but never application/json without a preflight. */
function bodyRules(route: Route<WebDeps>): express.RequestHandler[] {
  const kind = route.body ?? (MUTATING.has(route.method) ? 'json' : 'none');
  const type = (req: Request) => (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (kind === 'json') {
    return [
      (req, _res, next) => {
        if (hasBody(req) && type(req) !== 'application/json') return next(new AppError('unsupported_media_type', 415, 'Send the request body as application/json'));
        next();
      },
      express.json({ limit: route.bodyLimit ?? DEFAULT_JSON_LIMIT, strict: true, type: 'application/json' }),
    ];
  }
  if (kind === 'multipart') {
    return [(req, _res, next) => next(type(req) === 'multipart/form-data' ? undefined : new AppError('unsupported_media_type', 415, 'Send the upload as multipart/form-data'))];
  }
  return [(req, _res, next) => next(hasBody(req) ? new AppError('unexpected_body', 400, 'This request takes no body') : undefined)];
}

export function mountRoutes(router: Router, routes: readonly Route<WebDeps>[], deps: WebDeps): void {
  for (const route of routes) {
    const authorize = async (req: Request, res: Response, next: NextFunction) => {
      auditOnFinish(deps.audit, route, req, res, (e) => deps.log.error('audit write failed', { error: String(e) }));
      try {
        const principal = await resolvePrincipal(req, deps);
        checkAccess(route.access, principal);
        res.locals.principal = principal;
        next();
      } catch (err) { next(err); }
    };
    const handle = async (req: Request, res: Response, next: NextFunction) => {
      try {
        const result = await route.handler({ req, res, principal: (res.locals.principal as Principal | null) ?? null, deps });
        if (route.raw || res.headersSent) return;
        if (result === undefined) res.status(204).end();
        else res.status(route.status ?? 200).json(result);
      } catch (err) { next(err); }
    };
    router[route.method](route.path, authorize, ...bodyRules(route), handle);
  }
}

/** body-parser's errors carry `type`; give each a stable code instead of an HTML page. */
function fromBodyParser(err: unknown): AppError | undefined {
  const e = err as { type?: string; status?: number; limit?: number };
  switch (e?.type) {
    case 'entity.parse.failed': return new AppError('invalid_json', 400, 'The request body is not valid JSON');
    case 'entity.too.large': return new AppError('body_too_large', 413, `The request body is larger than ${e.limit ?? DEFAULT_JSON_LIMIT} bytes`);
    case 'encoding.unsupported': case 'charset.unsupported': return new AppError('unsupported_media_type', 415, 'Unsupported body encoding');
    case 'request.aborted': return new AppError('aborted', 400, 'Request aborted');
  }
  if (e?.status === 404) return new AppError('not_found', 404, 'Not found');
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) return new AppError('bad_request', e.status, 'Bad request');
  return undefined;
}

/** The shared AppError → {"error":{"code","message"}} handler; 5xx details go to the journal only. */
export function errorHandler(log: Logger): express.ErrorRequestHandler {
  return (err, req, res, _next) => {
    const app = err instanceof AppError ? err : fromBodyParser(err) ?? toAppError(err);
    if (app.status >= 500) {
      // an AppError is an expected failure (a peer service down): its message is enough; anything else needs the stack
      const error = err instanceof AppError ? `${err.code}: ${err.message}` : String((err as Error)?.stack ?? err);
      log.error('request failed', { method: req.method, path: req.path, error });
    }
    const retry = app.details?.retry_after_s;
    if (app.status === 429 && typeof retry === 'number') res.setHeader('Retry-After', String(retry));
    if (res.headersSent) { res.end(); return; }
    res.status(app.status).json(app.toJSON());
  };
}
