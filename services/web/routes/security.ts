/**
 * TOTP two-factor (per account), the "enforce 2FA for everyone" switch, and custom roles.
 * Enrollment routes are 'authenticated' rather than a permission: with enforcement on, an account
 * without TOTP has no permissions at all and must still be able to enroll.
 */
import { badRequest, notFound } from '../../shared/errors.ts';
import type { WebDeps } from '../deps.ts';
import type { Route } from '../route-types.ts';
import { account, param, sec } from '../security/http.ts';
import { jsonObject } from './validate.ts';

const code = (body: unknown) => jsonObject(body).code;

export const securityRoutes: Route<WebDeps>[] = [
  {
    method: 'get', path: '/security/totp', access: 'authenticated',
    handler: async ({ principal, deps }) => sec(deps).totp.status(account(principal).username),
  },
  {
    method: 'post', path: '/security/totp/enroll', access: 'authenticated',
    handler: async ({ principal, deps }) => {
      const e = await sec(deps).totp.beginEnroll(account(principal).username);
      return e;
    },
  },
  {
    method: 'post', path: '/security/totp/confirm', access: 'authenticated',
    handler: async ({ req, principal, deps }) => {
      const { username } = account(principal);
      const recovery_codes = await sec(deps).totp.confirm(username, code(req.body));
      return { enabled: true, recovery_codes };
    },
  },
  {
    method: 'post', path: '/security/totp/recovery-codes', access: 'authenticated',
    handler: async ({ req, principal, deps }) => {
      const { username } = account(principal);
      const recovery_codes = await sec(deps).totp.regenerateRecoveryCodes(username, code(req.body));
      return { recovery_codes };
    },
  },
  {
    method: 'post', path: '/security/totp/disable', access: 'authenticated',
    handler: async ({ req, principal, deps }) => {
      const { username } = account(principal);
      await sec(deps).totp.disable(username, code(req.body));
    },
  },
  {
    method: 'delete', path: '/security/totp/:username', access: 'users.manage',
    handler: async ({ req, deps }) => {
      const username = param(req, 'username');
      if (!(await sec(deps).totp.status(username)).enabled) throw notFound('Two-factor setup for that user');
      await sec(deps).totp.reset(username);
      await sec(deps).sessions.endAllFor(username);
    },
  },
  {
    method: 'get', path: '/security/settings', access: 'users.manage',
    handler: async ({ deps }) => ({ enforce_2fa: await sec(deps).totp.enforced() }),
  },
  {
    method: 'put', path: '/security/settings', access: 'users.manage',
    handler: async ({ req, deps }) => {
      const body = jsonObject(req.body);
      const on = body.enforce_2fa;
      if (typeof on !== 'boolean' || Object.keys(body).some((k) => k !== 'enforce_2fa')) throw badRequest('invalid_field', 'Send {"enforce_2fa": true|false}');
      await sec(deps).totp.setEnforced(on);
      return { enforce_2fa: on };
    },
  },
  {
    method: 'get', path: '/security/roles', access: 'users.manage',
    handler: async ({ deps }) => sec(deps).roles.list(),
  },
  {
    method: 'post', path: '/security/roles', access: 'users.manage', status: 201,
    handler: async ({ req, deps }) => {
      const body = jsonObject(req.body);
      const role = await sec(deps).roles.createCustom(body.name, body.permissions);
      return role;
    },
  },
  {
    method: 'put', path: '/security/roles/:name', access: 'users.manage',
    handler: async ({ req, deps }) => sec(deps).roles.updateCustom(param(req, 'name', 64), jsonObject(req.body).permissions),
  },
  {
    method: 'delete', path: '/security/roles/:name', access: 'users.manage',
    handler: async ({ req, deps }) => {
      const name = param(req, 'name', 64);
      await sec(deps).roles.deleteCustom(name);
    },
  },
];
