/**
 * /api/updates: the update service's status and commands (services/updater over update.sock). The web
 * only relays: the update service owns downloads, the engine and the restart, so updating keeps working
 * from `printbox update` when the web itself is what needs fixing.
 */
import { badRequest, unavailable } from '../../shared/errors.ts';
import type { ApplyRequest } from '../../shared/ipc.ts';
import type { WebDeps } from '../deps.ts';
import type { Route } from '../route-types.ts';

function updater(deps: WebDeps) {
  if (!deps.update) throw unavailable('updates_unavailable', 'Updates are not available on this installation (no printbox-update service)');
  return deps.update;
}

/** What a browser or app may ask for: a release or a URL. A path on the device is the CLI's (printbox update apply FILE). */
function parseApplyBody(body: unknown): ApplyRequest {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  if (b.file !== undefined) throw badRequest('invalid_update_request', 'file is for printbox update on the device; give version or url');
  return b as ApplyRequest;
}

export const updateRoutes: Route<WebDeps>[] = [
  { method: 'get', path: '/updates', access: 'system.read', handler: ({ deps }) => updater(deps).call('update.status', {}) },
  { method: 'post', path: '/updates/check', access: 'system.manage', handler: ({ deps }) => updater(deps).call('update.check', {}, 40_000) },
  { method: 'post', path: '/updates/apply', access: 'system.manage', status: 202, handler: ({ req, deps }) => updater(deps).call('update.apply', parseApplyBody(req.body)) },
  { method: 'post', path: '/updates/cancel', access: 'system.manage', handler: ({ deps }) => updater(deps).call('update.cancel', {}) },
  { method: 'post', path: '/updates/rollback', access: 'system.manage', status: 202, handler: ({ deps }) => updater(deps).call('update.rollback', {}, 30_000) },
  { method: 'put', path: '/updates/settings', access: 'system.manage', handler: ({ req, deps }) => updater(deps).call('update.settings', (req.body ?? {}) as Record<string, never>) },
];
