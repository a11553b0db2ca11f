/**
 * printer.sock handlers: the PrinterApi of services/shared/ipc.ts over the shared NDJSON transport.
 * Thin: validate params, call the manager/printer, return plain data.
 */
import { badRequest } from '../shared/errors.ts';
import type { FileStore } from '../shared/files.ts';
import type { Handlers, PrinterApi } from '../shared/ipc.ts';
import { historyEntry, type JobStore } from './jobs/job-store.ts';
import type { PrinterManager } from './manager.ts';

const str = (v: unknown, what: string): string => {
  if (typeof v !== 'string' || !v) throw badRequest('bad_request', `${what} is required`);
  return v;
};

export function printerHandlers(deps: { manager: PrinterManager; store: JobStore; files: FileStore; version: string }): Handlers<PrinterApi> {
  const { manager } = deps;
  return {
    ping: async () => ({ ok: true, version: deps.version }),
    'printers.list': async () => manager.list(),
    'printers.get': async (p) => manager.get(str(p.id, 'id')).info(),
    'printers.command': async (p) => { manager.get(str(p.id, 'id')).command(str(p.gcode, 'gcode')); return { queued: true }; },
    'printers.emergencyStop': async (p) => { manager.get(str(p.id, 'id')).emergencyStop(); return { stopped: true }; },
    'printers.reconnect': async (p) => manager.get(str(p.id, 'id')).reconnect(),
    'jobs.start': async (p) => {
      const file = str(p.file, 'file'); deps.files.path(file);
      return manager.get(str(p.printerId, 'printerId')).start(file, typeof p.user === 'string' && p.user ? p.user.slice(0, 200) : undefined);
    },
    'jobs.get': async (p) => manager.jobOf(str(p.printerId, 'printerId')),
    'jobs.pause': async (p) => manager.get(str(p.printerId, 'printerId')).pause(),
    'jobs.resume': async (p) => manager.get(str(p.printerId, 'printerId')).resume(),
    'jobs.cancel': async (p) => manager.get(str(p.printerId, 'printerId')).cancel(),
    'jobs.history': async (p) => (await deps.store.history(typeof p.limit === 'number' ? p.limit : 50)).map(historyEntry),
    'jobs.prune': async (p) => {
      if (p.before !== undefined && (typeof p.before !== 'string' || Number.isNaN(Date.parse(p.before)))) throw badRequest('bad_date', 'before must be an ISO date');
      return { removed: await deps.store.prune(p.before === undefined ? {} : { before: new Date(p.before).toISOString() }) };
    },
    'jobs.delete': async (p) => {
      if (!Number.isSafeInteger(p.id) || p.id < 1) throw badRequest('bad_job_id', 'id must be a job id');
      await deps.store.remove(p.id);
      return { removed: 1 };
    },
    'jobs.fileStats': async (p) => deps.store.fileStats({
      ...(typeof p.printerId === 'string' ? { printerId: p.printerId } : {}), ...(typeof p.file === 'string' ? { file: p.file } : {}),
    }),
    'jobs.active': async () => { const printers = manager.activeJobs(); return { active: printers.length > 0, printers }; },
    'events.subscribe': async (_p, conn) => {
      const fn = (ev: unknown) => conn.push(ev);
      manager.events.on('event', fn);
      conn.onClose(() => manager.events.off('event', fn));
      return { subscribed: true };
    },
  };
}
