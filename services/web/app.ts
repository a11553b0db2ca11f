/**
 * createApp(deps) builds the HTTPS application without listening (STYLE.md), so tests and main.ts
 * share it. Order matters: security headers, Host allow-list (DNS rebinding) and the Origin check
 * run before any session lookup or route.
 */
import fs from 'node:fs';
import path from 'node:path';
import express, { type Request } from 'express';
import helmet from 'helmet';
import { AppError } from '../shared/errors.ts';
import type { WebDeps } from './deps.ts';
import { errorHandler, mountRoutes, type MountOptions } from './mount.ts';
import { octoprintErrorBody, octoprintMount, octoprintRootMount, octoprintRootRoutes, octoprintRoutes, rootDispatch } from './octoprint/index.ts';
import { routes as defaultRoutes } from './routes/index.ts';
import { cameraMount, cameraStreamRoutes } from './camera/routes.ts';
import type { Route } from './route-types.ts';
import { sessionMiddleware } from './sessions/cookie.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** A present Origin must be this very origin (scheme https, same host:port as the Host header). */
export function sameOrigin(req: Request): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return req.headers['sec-fetch-site'] !== 'cross-site';
  try {
    const u = new URL(origin);
    return u.protocol === 'https:' && u.host.toLowerCase() === (req.headers.host ?? '').toLowerCase();
  } catch {
    return false; // "null" (sandboxed frames, file://) and garbage
  }
}

export function createApp(deps: WebDeps, routes: readonly Route<WebDeps>[] = defaultRoutes): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // NOTE: never `app.set('trust proxy', …)`: req.ip/req.secure must come from the socket itself.
  app.use(helmet());
  app.use((req, _res, next) => {
    if (!deps.hosts.allowed(req.headers.host)) return next(new AppError('host_not_allowed', 403, 'Unknown host name; use the device name or address'));
    next();
  });

  // OctoPrint's paths at the root for the default printer; which requests go there: octoprint/root.ts.
  const octoprintRoot = express.Router();
  octoprintRoot.use(tableRouter(deps, octoprintRootRoutes, octoprintRootMount), errorHandler(deps.log, octoprintErrorBody));
  const target = rootDispatch(routes.map((r) => r.path));
  app.use((req, res, next) => (target(req) === 'octoprint' ? octoprintRoot(req, res, next) : next()));
  app.use('/api', tableRouter(deps, routes, {}));
  // OctoPrint-compatible API, one base URL per printer (contract.md "OctoPrint-compatible API").
  app.use('/octoprint', tableRouter(deps, octoprintRoutes, octoprintMount), errorHandler(deps.log, octoprintErrorBody));

  // Camera streams: behind the credentials the OctoPrint API takes, since apps fetch them with their key.
  app.use('/camera', tableRouter(deps, cameraStreamRoutes, cameraMount));

  serveUi(app, deps.config.staticDir);
  app.use(errorHandler(deps.log));
  return app;
}

/** A route table behind the Origin check and the session cookie, ending in a 404 for paths it does not serve. */
function tableRouter(deps: WebDeps, routes: readonly Route<WebDeps>[], opts: MountOptions): express.Router {
  const router = express.Router();
  router.use((req, _res, next) => {
    if (!SAFE_METHODS.has(req.method) && !sameOrigin(req)) return next(new AppError('cross_origin', 403, 'Cross-origin request refused'));
    next();
  });
  router.use(sessionMiddleware(deps));
  mountRoutes(router, routes, deps, opts);
  router.use((req, _res, next) => next(new AppError('not_found', 404, `No API route ${req.method} ${req.path}`)));
  return router;
}

/** The built Svelte UI: hashed assets cached forever, index.html never, SPA fallback for client routes. */
function serveUi(app: express.Express, dir: string): void {
  const index = path.join(dir, 'index.html');
  app.use('/assets', express.static(path.join(dir, 'assets'), { immutable: true, maxAge: '365d', index: false, fallthrough: false }));
  app.use(express.static(dir, { index: false, setHeaders: (res, file) => res.setHeader('Cache-Control', file.endsWith('index.html') ? 'no-store' : 'no-cache') }));
  app.get(/.*/, (_req, res, next) => {
    if (!fs.existsSync(index)) return next(new AppError('ui_not_built', 404, 'The web UI is not built (npm run build:web)'));
    res.setHeader('Cache-Control', 'no-store');
    res.sendFile(index);
  });
}
