/**
 * The plain OctoPrint addressing: OctoPrint's own paths at the root of the device (/api/version,
 * /api/job, /plugin/appkeys/…), reaching the default printer (default-printer.ts), for clients that
 * take a host name only or mangle a base URL with a path (FDM Monster 2.1.1 drops the "/" before
 * "sockjs"). The routes are the per-printer table's own, without the `:printer` segment, so there is
 * one set of handlers.
 *
 * PrintBox's own API lives under /api too. Which table answers (docs/contract.md "Plain addressing"):
 * - a path only the OctoPrint table has (e.g. /api/version, /api/settings, /api/printer/command) → OctoPrint;
 * - a path both tables have (/api/files, /api/files/local — PrintBox's DELETE /api/files/:name) → OctoPrint
 *   when the request carries `X-Api-Key` (how every OctoPrint client sends its key), PrintBox otherwise
 *   (its UI uses the session cookie, scripts `Authorization: Bearer`);
 * - anything else → PrintBox.
 * Matching ignores the method, so a method the chosen table lacks gets that table's 404 or 405-style answer,
 * never the other table's route.
 */
import type { Request } from 'express';
import type { WebDeps } from '../deps.ts';
import type { MountOptions } from '../mount.ts';
import type { Route } from '../route-types.ts';
import { octoprintMount } from './auth.ts';
import { octoprintRoutes } from './routes.ts';

/** The per-printer table with `/:printer` dropped: `/api/…` and `/plugin/appkeys/…`, mounted at the root. */
export const octoprintRootRoutes: Route<WebDeps>[] = octoprintRoutes.map((r) => ({ ...r, path: r.path.replace(/^\/:printer(?=\/)/, '') }));

export const octoprintRootMount: MountOptions = { ...octoprintMount, auditPrefix: '/octoprint/(default)' };

/** A route path as express matches it (case-insensitive, optional trailing slash, `:param` = one segment). */
const matcher = (p: string) => new RegExp(`^${p.replace(/[.]/g, '\\.').replace(/:[A-Za-z_]+/g, '[^/]+')}/?$`, 'i');

export type RootTarget = 'octoprint' | 'printbox';

/** Decides who answers a request at the root; `printboxPaths` are PrintBox's own route paths relative to /api. */
export function rootDispatch(printboxPaths: readonly string[]): (req: Pick<Request, 'path' | 'headers'>) => RootTarget {
  const octo = [...new Set(octoprintRootRoutes.map((r) => r.path))].map(matcher);
  const own = [...new Set(printboxPaths)].map((p) => matcher(`/api${p}`));
  return (req) => {
    const path = req.path;
    if (!octo.some((m) => m.test(path))) return 'printbox';
    if (!own.some((m) => m.test(path))) return 'octoprint';
    return req.headers['x-api-key'] !== undefined ? 'octoprint' : 'printbox';
  };
}
