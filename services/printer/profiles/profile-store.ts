/**
 * Users' profile edits, one JSON file in the printer service's data dir (<dataDir>/profiles.json, keyed by
 * printer id). A file rather than a table of printer.db: profiles are a handful of small documents read at
 * every control action, edited rarely, and a person repairing a box can read and fix them with an editor.
 * Written to a temp file and renamed, so a power cut leaves the old or the new file, never half of one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { badRequest } from '../../shared/errors.ts';
import type { PrinterProfile } from '../../shared/ipc.ts';
import type { Logger } from '../../shared/log.ts';
import { defaultProfile, unknownKeys, validateProfile, type FirmwareFacts } from './profile.ts';

export class ProfileStore {
  private profiles: Record<string, PrinterProfile> = {};
  private constructor(private readonly file: string) {}

  static open(file: string, log: Logger): ProfileStore {
    const store = new ProfileStore(file);
    try {
      const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
      if (raw && typeof raw === 'object' && !Array.isArray(raw)) store.profiles = raw as Record<string, PrinterProfile>;
    } catch (e) {
      // A missing file is the normal first start; an unreadable one falls back to the firmware's defaults.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') log.warn('printer profiles unreadable; using defaults', { file, error: (e as Error).message });
    }
    return store;
  }

  /** The stored edit when it is still valid (the file may have been edited by hand), else the firmware's defaults. */
  effective(id: string, facts: FirmwareFacts): { profile: PrinterProfile; edited: boolean } {
    const stored = this.profiles[id];
    if (stored && validateProfile(stored).length === 0) return { profile: stored, edited: true };
    return { profile: defaultProfile(facts), edited: false };
  }

  /** Applies an edit (null: back to the defaults); invalid_profile (400) with every problem in details.errors. */
  edit(id: string, facts: FirmwareFacts, edit: Partial<PrinterProfile> | null): { profile: PrinterProfile; edited: boolean } {
    if (edit === null) { this.set(id, null); return this.effective(id, facts); }
    if (!isPlain(edit)) throw badRequest('invalid_profile', 'The profile must be a JSON object', { errors: ['the profile must be a JSON object'] });
    const next = merge(this.effective(id, facts).profile, edit) as PrinterProfile;
    const errors = [...unknownKeys(edit), ...validateProfile(next)];
    if (errors.length) throw badRequest('invalid_profile', `Invalid profile: ${errors.join('; ')}`, { errors });
    this.set(id, next);
    return { profile: next, edited: true };
  }

  private set(id: string, profile: PrinterProfile | null): void {
    const next = { ...this.profiles };
    if (profile) next[id] = profile; else delete next[id];
    const tmp = path.join(path.dirname(this.file), `.${path.basename(this.file)}.tmp`);
    fs.writeFileSync(tmp, JSON.stringify(next, null, 2) + '\n', { mode: 0o640 });
    fs.renameSync(tmp, this.file);
    this.profiles = next;
  }
}

const isPlain = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** `edit` over `base`: objects merge key by key (`{"volume": {"height": 250}}` keeps width and depth), everything else is replaced. */
export function merge(base: unknown, edit: unknown): unknown {
  if (!isPlain(base) || !isPlain(edit)) return edit;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(edit)) out[k] = merge(base[k], v);
  return out;
}
