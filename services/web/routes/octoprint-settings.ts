/**
 * Which printer the plain OctoPrint addressing (https://<device>/api/…, services/web/octoprint/root.ts)
 * reaches: read it (with why: chosen, the only printer, the first by id) and, as an admin, choose it.
 */
import type { WebDeps } from '../deps.ts';
import { defaultPrinter, setDefaultPrinter } from '../octoprint/default-printer.ts';
import type { Route } from '../route-types.ts';
import { badRequest } from '../../shared/errors.ts';
import { jsonObject } from './validate.ts';

export const octoprintSettingRoutes: Route<WebDeps>[] = [
  { method: 'get', path: '/octoprint/default-printer', access: 'settings.read', handler: ({ deps }) => defaultPrinter(deps) },
  {
    method: 'put', path: '/octoprint/default-printer', access: 'settings.manage',
    handler: ({ req, deps }) => {
      const body = jsonObject(req.body);
      if (!Object.hasOwn(body, 'printer') || Object.keys(body).length !== 1) throw badRequest('invalid_field', 'Send {"printer": "<printer-id>"} or {"printer": null}');
      return setDefaultPrinter(deps, body.printer);
    },
  },
];
