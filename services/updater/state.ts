/**
 * What the updater must remember across a reboot, on the data partition (it survives the slot switch):
 * the user's settings, the install waiting to be proven by the next boot, the last outcome, the version
 * each slot was seen to hold, and the last check's answer and failure (the service exits when idle, and a
 * release found before that must still be offered when it starts again). Written
 * to a temporary file, flushed, renamed and the directory flushed: a power cut leaves the old state or
 * the new one, never half a file.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { PendingSwitch, Release, UpdateChannel, UpdateOutcome, UpdateSettings, UpdateStatus } from '../shared/ipc.ts';
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
  /** The last successful check of the channel and the release it offered (re-read on start, see manager.ts). */
  check?: { at: string; available: Release | null };
  /** The last operation's failure, until the next one starts. */
  error?: UpdateStatus['error'];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The shape only; whether the release is still worth offering is the manager's question. */
function parseCheck(raw: unknown): UpdaterState['check'] {
  if (!isObject(raw) || typeof raw.at !== 'string' || Number.isNaN(Date.parse(raw.at))) return undefined;
  return { at: raw.at, available: isObject(raw.available) ? (raw.available as unknown as Release) : null };
}

function parseError(raw: unknown): UpdaterState['error'] {
  if (!isObject(raw) || typeof raw.code !== 'string' || typeof raw.message !== 'string' || typeof raw.at !== 'string') return undefined;
  return { code: raw.code, message: raw.message, at: raw.at };
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
      const check = parseCheck(raw.check);
      const error = parseError(raw.error);
      state = {
        settings: errors.length ? { ...DEFAULT_SETTINGS } : settings, ...(raw.pending ? { pending: raw.pending } : {}), ...(raw.last ? { last: raw.last } : {}),
        ...(versions ? { versions } : {}), ...(check ? { check } : {}), ...(error ? { error } : {}),
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
