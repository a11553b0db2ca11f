/**
 * Session management: list and end your own sessions; admins (users.manage) list and end
 * anyone's. Someone else's session id answers 404, as if it did not exist.
 */
import { notFound } from '../../shared/errors.ts';
import type { WebDeps } from '../deps.ts';
import type { Route } from '../route-types.ts';
import { account, param, sec } from '../security/http.ts';

export const sessionRoutes: Route<WebDeps>[] = [
  {
    method: 'get', path: '/sessions', access: 'authenticated',
    handler: async ({ req, principal, deps }) => {
      if (principal!.method !== 'pam' && principal!.method !== 'cloud') return [];
      const current = await sec(deps).sessions.idOf(req.sessionID);
      return (await sec(deps).sessions.list(principal!.user)).map((s) => ({ ...s, current: s.id === current }));
    },
  },
  {
    method: 'get', path: '/sessions/all', access: 'users.manage',
    handler: async ({ req, deps }) => {
      const current = await sec(deps).sessions.idOf(req.sessionID);
      return (await sec(deps).sessions.list()).map((s) => ({ ...s, current: s.id === current }));
    },
  },
  {
    // Ends all of your sessions except this one ("sign out everywhere else").
    method: 'delete', path: '/sessions', access: 'authenticated',
    handler: async ({ req, principal, deps }) => {
      const { username } = account(principal);
      const ended = await sec(deps).sessions.endAllFor(username, req.sessionID);
      return { ended };
    },
  },
  {
    method: 'delete', path: '/sessions/:id', access: 'authenticated',
    handler: async ({ req, principal, deps }) => {
      const id = param(req, 'id', 64);
      const s = await sec(deps).sessions.get(id);
      if (!s || (s.username !== principal!.user && !principal!.permissions.has('users.manage'))) throw notFound('Session');
      await sec(deps).sessions.end(id);
    },
  },
];
