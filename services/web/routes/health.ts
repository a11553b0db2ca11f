import type { WebDeps } from '../deps.ts';
import type { Route } from '../route-types.ts';

/** CONTRACT.md: GET /api/health → 200 {"ok": true, "version"} without auth (used by probes and the image test). */
export const healthRoutes: Route<WebDeps>[] = [
  { method: 'get', path: '/health', access: 'public', handler: ({ deps }) => ({ ok: true, version: deps.version }) },
];
