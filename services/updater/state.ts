/**
 * What the updater must remember across a reboot, on the data partition (it survives the slot switch):
 * the user's settings, the install waiting to be proven by the next boot, the last outcome and the
 * version each slot was seen to hold. Written
 * to a temporary file, flushed, renamed and the directory flushed: a power cut leaves the old state or
 * the new one, never half a file.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { PendingSwitch, UpdateChannel, UpdateOutcome, UpdateSettings } from '../shared/ipc.ts';
import type { Logger } from '../shared/log.ts';

export const DEFAULT_SETTINGS: UpdateSettings = { channel: 'stable', url: '', automatic: false };

export interface UpdaterState {
  settings: UpdateSettings;
  pending?: PendingSwitch;
  last?: UpdateOutcome;
  /**
   * Version by bootname (A, B): the one that ran there, or the bundle installed there. RAUC knows only
   * what it installed itself; the slot the card was flashed with was written by the image build.
   */
  versions?: Record<string, string>;
}

/** Only string → string entries: a damaged map loses what it cannot vouch for, not the whole state. */
function parseVersions(raw: unknown): Record<string, string> | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const entries = Object.entries(raw).filter((e): e is [string, string] => typeof e[1] === 'string');
  return entries.length ? Object.fromEntries(entries) : undefined;
}

const CHANNELS: readonly UpdateChannel[] = ['stable', 'beta', 'custom'];

/** Settings as a client sent them; every problem listed (400 invalid_update_settings). */
export function parseSettings(raw: unknown, current: UpdateSettings): { settings: UpdateSettings; errors: string[] } {
  const errors: string[] = [];
  const b = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const next = { ...current };
  for (const k of Object.keys(b)) if (!['channel', 'url', 'automatic'].includes(k)) errors.push(`unknown setting "${k}"`);
  if (b.channel !== undefined) {
    if (CHANNELS.includes(b.channel as UpdateChannel)) next.channel = b.channel as UpdateChannel;
    else errors.push(`channel must be one of ${CHANNELS.join(', ')}`);
  }
  if (b.url !== undefined) {
    if (typeof b.url !== 'string') errors.push('url must be a string');
    else if (b.url === '') next.url = '';
    else {
      try {
        const u = new URL(b.url);
        if (u.protocol !== 'https:' && u.protocol !== 'http:') errors.push('url must be http or https');
        else next.url = u.href;
      } catch { errors.push(`url "${b.url}" is not a URL`); }
    }
  }
  if (b.automatic !== undefined) {
    if (typeof b.automatic === 'boolean') next.automatic = b.automatic;
    else errors.push('automatic must be true or false');
  }
  if (!errors.length && next.channel === 'custom' && !next.url) errors.push('a custom channel needs the URL of its index');
  return { settings: next, errors };
}

export class StateFile {
  private constructor(private readonly file: string, private state: UpdaterState) {}

  /** A missing or unreadable file gives the defaults (logged): a damaged state must not stop updates. */
  static open(file: string, log: Logger): StateFile {
    let state: UpdaterState = { settings: { ...DEFAULT_SETTINGS } };
    try {
      const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<UpdaterState>;
      const { settings, errors } = parseSettings(raw.settings ?? {}, DEFAULT_SETTINGS);
      if (errors.length) log.warn('update settings reset to the defaults', { file, errors });
      const versions = parseVersions(raw.versions);
      state = {
        settings: errors.length ? { ...DEFAULT_SETTINGS } : settings, ...(raw.pending ? { pending: raw.pending } : {}), ...(raw.last ? { last: raw.last } : {}),
        ...(versions ? { versions } : {}),
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') log.warn('update state unreadable; starting from the defaults', { file, error: (e as Error).message });
    }
    return new StateFile(file, state);
  }

  get(): UpdaterState { return structuredClone(this.state); }

  update(change: (s: UpdaterState) => UpdaterState): UpdaterState {
    const next = change(structuredClone(this.state));
    const tmp = `${this.file}.tmp`;
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const fd = fs.openSync(tmp, 'w', 0o640);
    try { fs.writeFileSync(fd, JSON.stringify(next, null, 2) + '\n'); fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
    fs.renameSync(tmp, this.file);
    const dir = fs.openSync(path.dirname(this.file), 'r');
    try { fs.fsyncSync(dir); } finally { fs.closeSync(dir); }
    this.state = next;
    return this.get();
  }
}
