/**
 * Deciding the app key requests of OctoPrint clients (services/web/octoprint/appkeys.ts): the pending
 * requests, and allow or deny one. Allowing creates a PrintBox API key with the `api` role, owned by
 * the deciding user, which the waiting client then fetches once.
 */
import { badRequest } from '../../shared/errors.ts';
import type { WebDeps } from '../deps.ts';
import { decideAppKey, pendingAppKeys } from '../octoprint/appkeys.ts';
import type { Route } from '../route-types.ts';
import { param } from '../security/http.ts';

export const octoprintAppKeyRoutes: Route<WebDeps>[] = [
  { method: 'get', path: '/octoprint/appkeys', access: 'apikeys.manage', handler: ({ deps }) => pendingAppKeys(deps) },
  {
    method: 'post', path: '/octoprint/appkeys/:id', access: 'apikeys.manage',
    handler: async ({ req, principal, deps }) => {
      const decision = (req.body as { decision?: unknown } | undefined)?.decision;
      if (decision !== 'allow' && decision !== 'deny') throw badRequest('bad_decision', 'decision is "allow" or "deny"');
      await decideAppKey(deps, principal!, param(req, 'id', 32), decision === 'allow');
      return undefined;
    },
  },
];
