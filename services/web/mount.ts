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

/**
 * What differs between the route tables mounted here: PrintBox's own API under /api takes the defaults;
 * the OctoPrint-compatible one (services/web/octoprint) reads its X-Api-Key header and answers a
 * request without credentials 403, as OctoPrint does.
 */
export interface MountOptions {
  /** Who is asking; default: resolvePrincipal (session cookie, Bearer key, the machine itself). */
  principal?: (req: Request, deps: WebDeps) => Promise<Principal | null>;
  /** A non-public route asked without any credential. */
  anonymous?: () => AppError;
  /** Where the table is mounted, so audit actions name the full route (e.g. "/octoprint"). */
  auditPrefix?: string;
}

const signInFirst = () => new AppError('unauthorized', 401, 'Sign in first');

function checkAccess(access: Access, principal: Principal | null, anonymous: () => AppError): void {
  if (access === 'public') return;
  if (!principal) throw anonymous();
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

export function mountRoutes(router: Router, routes: readonly Route<WebDeps>[], deps: WebDeps, opts: MountOptions = {}): void {
  const who = opts.principal ?? resolvePrincipal;
  for (const route of routes) {
    const audited = opts.auditPrefix ? { ...route, path: opts.auditPrefix + route.path } : route;
    const authorize = async (req: Request, res: Response, next: NextFunction) => {
      auditOnFinish(deps.audit, audited, req, res, (e) => deps.log.error('audit write failed', { error: String(e) }));
      try {
        const principal = await who(req, deps);
        checkAccess(route.access, principal, opts.anonymous ?? signInFirst);
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

const printboxError = (e: AppError): unknown => e.toJSON();

/**
 * The shared AppError → {"error":{"code","message"}} handler; 5xx details go to the journal only.
 * `body` shapes the answer where a compatible API promises another error format (OctoPrint's {"error": "…"}).
 */
export function errorHandler(log: Logger, body: (e: AppError) => unknown = printboxError): express.ErrorRequestHandler {
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
    res.status(app.status).json(body(app));
  };
}
