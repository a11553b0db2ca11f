/**
 * printer.sock handlers: the PrinterApi of services/shared/ipc.ts over the shared NDJSON transport.
 * Thin: validate params, call the manager/printer, return plain data.
 */
import { badRequest } from '../shared/errors.ts';
import type { FileStore } from '../shared/files.ts';
import type { Handlers, PrinterApi } from '../shared/ipc.ts';
import { historyEntry, type JobStore } from './jobs/job-store.ts';
import type { PrinterManager } from './manager.ts';
import type { ProfileStore } from './profiles/profile-store.ts';

const str = (v: unknown, what: string): string => {
  if (typeof v !== 'string' || !v) throw badRequest('bad_request', `${what} is required`);
  return v;
};

export function printerHandlers(deps: { manager: PrinterManager; store: JobStore; files: FileStore; profiles: ProfileStore; version: string }): Handlers<PrinterApi> {
  const { manager } = deps;
  return {
    ping: async () => ({ ok: true, version: deps.version }),
    'printers.list': async () => manager.list(),
    'printers.get': async (p) => manager.get(str(p.id, 'id')).info(),
    'printers.command': async (p) => { manager.get(str(p.id, 'id')).command(str(p.gcode, 'gcode')); return { queued: true }; },
    'printers.control': async (p) => {
      const printer = manager.get(str(p.id, 'id'));
      return { queued: printer.control(p.control, deps.profiles.effective(printer.id, printer.firmwareFacts()).profile) };
    },
    'printers.profile': async (p) => { const printer = manager.get(str(p.id, 'id')); return deps.profiles.effective(printer.id, printer.firmwareFacts()); },
    'printers.setProfile': async (p) => { const printer = manager.get(str(p.id, 'id')); return deps.profiles.edit(printer.id, printer.firmwareFacts(), p.profile); },
    'printers.prompt.answer': async (p) => {
      if (!Number.isSafeInteger(p.promptId) || p.promptId < 1) throw badRequest('bad_prompt_id', 'promptId must be the id of the open prompt');
      if (!Number.isSafeInteger(p.choice)) throw badRequest('bad_choice', 'choice must be a whole number (the button, from 0)');
      const user = typeof p.user === 'string' && p.user ? p.user.slice(0, 200) : undefined;
      return { sent: manager.get(str(p.id, 'id')).answerPrompt(p.promptId, p.choice, user) };
    },
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
