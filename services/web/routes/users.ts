/**
 * Users: who has signed in, their role and 2FA state; admins assign a role (or clear it
 * to fall back to the PAM group map), which ends that user's sessions so the change applies now.
 */
import { badRequest } from '../../shared/errors.ts';
import type { WebDeps } from '../deps.ts';
import type { Route } from '../route-types.ts';
import { param, sec } from '../security/http.ts';
import { jsonObject } from './validate.ts';

export const userRoutes: Route<WebDeps>[] = [
  {
    method: 'get', path: '/users', access: 'users.manage',
    handler: async ({ deps }) => {
      const s = sec(deps);
      const assigned = new Map((await s.roles.assignments()).map((a) => [a.username, a.role]));
      const users = await s.knownUsers();
      return Promise.all(users.map(async (u) => ({
        ...u, assigned_role: assigned.get(u.username) ?? null, totp: await s.totp.isEnabled(u.username),
      })));
    },
  },
  {
    method: 'put', path: '/users/:username/role', access: 'users.manage',
    handler: async ({ req, deps }) => {
      const username = param(req, 'username');
      await sec(deps).requireKnownUser(username);
      const body = jsonObject(req.body);
      const role = body.role;
      if (role !== null && typeof role !== 'string') throw badRequest('invalid_field', '"role" must be a role name or null');
      await sec(deps).roles.setUserRole(username, role);
      return { username, role };
    },
  },
  {
    method: 'delete', path: '/users/:username/sessions', access: 'users.manage',
    handler: async ({ req, deps }) => {
      const username = param(req, 'username');
      await sec(deps).requireKnownUser(username);
      const ended = await sec(deps).sessions.endAllFor(username);
      return { ended };
    },
  },
];
