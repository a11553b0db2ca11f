/**
 * The control panel (docs/api.md "Printer control"): control actions, the printer profile and macros.
 * Thin: the printer service checks each action against the printer's state and profile, builds its
 * G-code and queues it (services/printer/device/control.ts); this file checks shapes and permissions.
 */
import { badRequest, forbidden } from '../../shared/errors.ts';
import type { WebDeps } from '../deps.ts';
import type { Route } from '../route-types.ts';
import { parseControl } from '../control/actions.ts';
import { macroLines, macrosOf } from '../control/macros.ts';
import { isObject } from '../control/values.ts';

const printerId = (p: { id?: string | string[] }): string => {
  const v = typeof p.id === 'string' ? p.id : '';
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(v)) throw badRequest('bad_printer_id', 'Invalid printer id');
  return v;
};
const macroName = (p: { name?: string | string[] }): string => (typeof p.name === 'string' ? p.name : '');
const bodyOf = (b: unknown): Record<string, unknown> => {
  if (!isObject(b)) throw badRequest('bad_request', 'A JSON object is required');
  return b;
};

export const controlRoutes: Route<WebDeps>[] = [
  {
    method: 'post', path: '/printers/:id/control', access: 'printers.control', status: 202,
    handler: ({ req, deps }) => deps.printer.call('printers.control', { id: printerId(req.params), control: parseControl(req.body) }),
  },
  { method: 'get', path: '/printers/:id/profile', access: 'printers.read', handler: ({ req, deps }) => deps.printer.call('printers.profile', { id: printerId(req.params) }) },
  // The profile sets what the control panel may do (temperature limits, build volume): a setting, not a control.
  {
    method: 'put', path: '/printers/:id/profile', access: 'settings.manage',
    handler: ({ req, deps }) => deps.printer.call('printers.setProfile', { id: printerId(req.params), profile: bodyOf(req.body) }),
  },
  { method: 'delete', path: '/printers/:id/profile', access: 'settings.manage', handler: ({ req, deps }) => deps.printer.call('printers.setProfile', { id: printerId(req.params), profile: null }) },
  { method: 'get', path: '/macros', access: 'printers.read', handler: ({ deps }) => macrosOf(deps.db).list() },
  { method: 'post', path: '/macros', access: 'settings.manage', status: 201, handler: ({ req, deps }) => macrosOf(deps.db).save(bodyOf(req.body), true) },
  {
    method: 'put', path: '/macros/:name', access: 'settings.manage',
    handler: ({ req, deps }) => {
      const body = bodyOf(req.body);
      const name = macroName(req.params);
      if (body.name !== undefined && body.name !== name) throw badRequest('bad_request', 'A macro cannot be renamed: create a new one and delete this one');
      return macrosOf(deps.db).save({ ...body, name }, false);
    },
  },
  { method: 'delete', path: '/macros/:name', access: 'settings.manage', handler: async ({ req, deps }) => { await macrosOf(deps.db).remove(macroName(req.params)); } },
  {
    method: 'post', path: '/printers/:id/macros/:name', access: 'printers.control', status: 202,
    handler: async ({ req, deps, principal }) => {
      const id = printerId(req.params);
      const macro = await macrosOf(deps.db).get(macroName(req.params));
      if (!principal?.permissions.has(macro.permission)) throw forbidden('forbidden', `Running "${macro.name}" needs the ${macro.permission} permission`);
      return deps.printer.call('printers.control', { id, control: { action: 'gcode', lines: macroLines(macro.gcode), whilePrinting: macro.whilePrinting } });
    },
  },
];
