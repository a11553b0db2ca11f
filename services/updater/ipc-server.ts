/** update.sock handlers (shared/ipc.ts UpdateApi): input checked here, the work in manager.ts. */
import { EventEmitter } from 'node:events';
import { badRequest } from '../shared/errors.ts';
import type { ApplyRequest, Handlers, UpdateApi, UpdateStatus } from '../shared/ipc.ts';
import type { UpdateManager } from './manager.ts';
import { parseSettings } from './state.ts';

/** Only the keys ApplyRequest knows, with their types; anything else is a 400 listing every problem. */
export function parseApply(raw: unknown): ApplyRequest {
  const b = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const errors: string[] = [];
  const out: ApplyRequest = {};
  for (const k of Object.keys(b)) if (!['version', 'file', 'url', 'allowDowngrade'].includes(k)) errors.push(`unknown field "${k}"`);
  for (const k of ['version', 'file', 'url'] as const) {
    if (b[k] === undefined) continue;
    if (typeof b[k] !== 'string' || !(b[k] as string).length) errors.push(`${k} must be a non-empty string`);
    else out[k] = b[k] as string;
  }
  if (b.allowDowngrade !== undefined) {
    if (typeof b.allowDowngrade !== 'boolean') errors.push('allowDowngrade must be true or false');
    else out.allowDowngrade = b.allowDowngrade;
  }
  if (errors.length) throw badRequest('invalid_update_request', errors.join('; '), { errors });
  return out;
}

export function updateHandlers(manager: UpdateManager, changes: EventEmitter<{ status: [UpdateStatus] }>): Handlers<UpdateApi> {
  return {
    'update.status': async () => manager.status(),
    'update.check': async () => manager.check(),
    'update.apply': async (p) => { await manager.afterCheck(); return manager.apply(parseApply(p)); },
    'update.cancel': async () => manager.cancel(),
    'update.rollback': async () => { await manager.afterCheck(); return manager.rollback(); },
    'update.settings': async (p) => {
      const { settings, errors } = parseSettings(p, manager.status().settings);
      if (errors.length) throw badRequest('invalid_update_settings', errors.join('; '), { errors });
      return manager.updateSettings(settings);
    },
    'events.subscribe': async (_p, conn) => {
      const fn = (s: UpdateStatus) => conn.push({ event: 'update', data: s });
      changes.on('status', fn);
      conn.onClose(() => changes.off('status', fn));
      return { subscribed: true };
    },
  };
}
