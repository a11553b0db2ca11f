/**
 * Device administration (admins: system.manage; every change audited by the route mount): Wi-Fi
 * (scan, join, forget), hostname, timezone, reboot and power off. The work is done by the system's
 * own services through system/admin.ts; this file checks input (first, so bad input is a 400 on any
 * installation) and guards the running print.
 */
import { AppError, badRequest, unavailable } from '../../shared/errors.ts';
import type { PrinterInfo } from '../../shared/ipc.ts';
import type { WebDeps } from '../deps.ts';
import type { Route } from '../route-types.ts';
import type { PowerAction, SystemAdmin } from '../system/admin.ts';
import { parseForce, parseHostname, parseTimezone, parseUuid, parseWifiJoin } from '../system/validate.ts';

function adminOf(deps: WebDeps): SystemAdmin {
  if (!deps.admin) throw unavailable('system_admin_disabled', 'Device administration is off on this installation (PRINTBOX_SYSTEM_ADMIN): only the PrintBox image turns it on');
  return deps.admin;
}

/**
 * Reboot and power-off cut the serial link and the heaters mid-layer: refused while any job prints or
 * waits paused (a filament change, a pause from the printer's menu), unless the request says force (the
 * UI asks the user first). A printer service that cannot answer is no proof that nothing prints.
 */
async function guardPrint(deps: WebDeps, force: boolean, action: PowerAction): Promise<void> {
  if (force) return;
  const verb = action === 'reboot' ? 'Restarting' : 'Shutting down';
  let printers: PrinterInfo[];
  try { printers = await deps.printer.call('printers.list', {}); } catch (e) {
    const why = e instanceof AppError ? e.message : String(e);
    throw new AppError('print_state_unknown', 409, `${verb} now could stop a running print, and the printer service did not say whether one runs (${why}). Send force: true to do it anyway.`);
  }
  const busy = printers.filter((p) => p.job?.state === 'printing' || p.job?.state === 'paused').map((p) => p.id);
  if (busy.length) {
    throw new AppError('print_running', 409, `${verb} now would stop the print on ${busy.join(', ')}. Cancel it first, or send force: true to do it anyway.`, { printers: busy });
  }
}

function power(action: PowerAction): Route<WebDeps> {
  return {
    method: 'post', path: action === 'reboot' ? '/system/reboot' : '/system/shutdown', access: 'system.manage', status: 202,
    handler: async ({ req, deps }) => {
      const force = parseForce(req.body);
      const admin = adminOf(deps);
      await guardPrint(deps, force, action);
      deps.log.warn(action === 'reboot' ? 'restarting the device' : 'shutting the device down', { force });
      await admin.power(action);
      return { action, force };
    },
  };
}

export const adminRoutes: Route<WebDeps>[] = [
  {
    method: 'get', path: '/system/settings', access: 'system.read',
    handler: async ({ deps }) => {
      const admin = adminOf(deps);
      const [hostname, timezone] = await Promise.all([admin.hostname(), admin.timezone()]);
      return { hostname, timezone };
    },
  },
  { method: 'get', path: '/system/network', access: 'system.read', handler: ({ deps }) => adminOf(deps).network() },
  {
    method: 'get', path: '/system/wifi/networks', access: 'system.manage',
    handler: async ({ req, deps }) => {
      const rescan = req.query.rescan;
      if (rescan !== undefined && rescan !== 'true' && rescan !== 'false') throw badRequest('invalid_rescan', 'rescan must be true or false');
      return { networks: await adminOf(deps).scan(rescan === 'true') };
    },
  },
  {
    method: 'post', path: '/system/wifi', access: 'system.manage', status: 201,
    handler: async ({ req, deps }) => {
      const join = parseWifiJoin(req.body);
      return adminOf(deps).join(join);
    },
  },
  {
    method: 'delete', path: '/system/wifi/:uuid', access: 'system.manage',
    handler: async ({ req, deps }) => { const uuid = parseUuid(req.params.uuid); await adminOf(deps).forget(uuid); },
  },
  {
    method: 'put', path: '/system/hostname', access: 'system.manage',
    handler: async ({ req, deps }) => {
      const hostname = parseHostname((req.body as Record<string, unknown> | undefined)?.hostname);
      await adminOf(deps).setHostname(hostname);
      return { hostname };
    },
  },
  { method: 'get', path: '/system/timezones', access: 'system.read', handler: async ({ deps }) => ({ timezones: await adminOf(deps).timezones() }) },
  {
    method: 'put', path: '/system/timezone', access: 'system.manage',
    handler: async ({ req, deps }) => {
      const timezone = parseTimezone((req.body as Record<string, unknown> | undefined)?.timezone);
      const admin = adminOf(deps);
      if (!(await admin.timezones()).includes(timezone)) throw badRequest('unknown_timezone', `"${timezone}" is not a timezone this system knows`);
      await admin.setTimezone(timezone);
      return { timezone };
    },
  },
  power('reboot'),
  power('poweroff'),
];
