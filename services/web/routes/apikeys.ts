/**
 * API keys: create (the key is in this one response only), list (prefix, never the key),
 * revoke. Scripts then send `Authorization: Bearer <key>`; a key in a query string is refused.
 */
import { notFound } from '../../shared/errors.ts';
import type { WebDeps } from '../deps.ts';
import type { Route } from '../route-types.ts';
import { param, sec } from '../security/http.ts';
import { jsonObject } from './validate.ts';

export const apiKeyRoutes: Route<WebDeps>[] = [
  {
    method: 'get', path: '/apikeys', access: 'apikeys.manage',
    handler: async ({ deps }) => sec(deps).apiKeys.list(),
  },
  {
    method: 'post', path: '/apikeys', access: 'apikeys.manage', status: 201,
    handler: async ({ req, res, principal, deps }) => {
      const body = jsonObject(req.body);
      const { key, info } = await sec(deps).apiKeys.create(principal!, body);
      res.setHeader('Cache-Control', 'no-store');
      return { ...info, key };
    },
  },
  {
    method: 'delete', path: '/apikeys/:id', access: 'apikeys.manage',
    handler: async ({ req, deps }) => {
      const raw = param(req, 'id', 12);
      if (!/^[1-9]\d*$/.test(raw)) throw notFound('API key');
      return sec(deps).apiKeys.revoke(Number(raw));
    },
  },
];
