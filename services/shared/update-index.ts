/**
 * The update server's index: one JSON document per channel, next to the bundles it names (docs/updates.md
 * "Update server"). An update server is static files, so a URL in the index may be relative to the index.
 * A document that does not match is refused with every problem listed, never half-read.
 */
import semver from 'semver';
import { AppError } from './errors.ts';
import type { Release } from './ipc.ts';

export const INDEX_FORMAT = 1;

export interface UpdateIndex { channel: string; releases: Release[] }

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads one release; problems are appended to `errors` with the release's position. */
function parseRelease(raw: unknown, at: string, base: URL, errors: string[]): Release | undefined {
  if (!isObject(raw)) { errors.push(`${at} must be an object`); return undefined; }
  const before = errors.length;
  const str = (k: string, max = 200): string => {
    const v = raw[k];
    if (typeof v !== 'string' || v.length === 0 || v.length > max) { errors.push(`${at}.${k} must be a non-empty string of at most ${max} characters`); return ''; }
    return v;
  };
  const version = str('version', 64);
  if (version && !semver.valid(version)) errors.push(`${at}.version "${version}" is not a semantic version (1.2.3 or 1.2.3-beta.1)`);
  const compatible = str('compatible', 64);
  const rawUrl = str('url', 2000);
  let url = '';
  if (rawUrl) {
    try {
      const u = new URL(rawUrl, base);
      if (u.protocol !== 'https:' && u.protocol !== 'http:') errors.push(`${at}.url must be http or https`);
      url = u.href;
    } catch { errors.push(`${at}.url "${rawUrl}" is not a URL`); }
  }
  const size = raw.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size <= 0) errors.push(`${at}.size must be a positive whole number of bytes`);
  const sha256 = str('sha256', 64).toLowerCase();
  if (sha256 && !/^[0-9a-f]{64}$/.test(sha256)) errors.push(`${at}.sha256 must be 64 hex digits`);
  const notes = raw.notes === undefined ? '' : typeof raw.notes === 'string' && raw.notes.length <= 20_000 ? raw.notes : (errors.push(`${at}.notes must be text of at most 20000 characters`), '');
  const released = raw.released === undefined ? '' : typeof raw.released === 'string' && !Number.isNaN(Date.parse(raw.released)) ? raw.released : (errors.push(`${at}.released must be a date`), '');
  if (errors.length > before) return undefined;
  return { version, compatible, url, size: size as number, sha256, notes, released };
}

/** Parses an index fetched from `from`. Throws 502 update_index_invalid with the list of problems. */
export function parseIndex(raw: unknown, from: string): UpdateIndex {
  const errors: string[] = [];
  const base = new URL(from);
  if (!isObject(raw)) throw invalid(from, ['the index must be a JSON object']);
  if (raw.format !== INDEX_FORMAT) errors.push(`format must be ${INDEX_FORMAT} (this device reads index format ${INDEX_FORMAT} only), got ${JSON.stringify(raw.format)}`);
  const channel = typeof raw.channel === 'string' && /^[a-z0-9][a-z0-9-]{0,31}$/.test(raw.channel) ? raw.channel : (errors.push('channel must be a short lower-case name'), '');
  const list = Array.isArray(raw.releases) ? raw.releases : (errors.push('releases must be a list'), []);
  const releases: Release[] = [];
  list.forEach((r, i) => { const rel = parseRelease(r, `releases[${i}]`, base, errors); if (rel) releases.push(rel); });
  const seen = new Set<string>();
  for (const r of releases) {
    const key = `${r.compatible} ${r.version}`;
    if (seen.has(key)) errors.push(`version ${r.version} for ${r.compatible} is listed twice`);
    seen.add(key);
  }
  if (errors.length) throw invalid(from, errors);
  return { channel, releases };
}

const invalid = (from: string, errors: string[]) =>
  new AppError('update_index_invalid', 502, `The update index at ${from} is not valid: ${errors.slice(0, 3).join('; ')}${errors.length > 3 ? ` (and ${errors.length - 3} more)` : ''}`, { errors });

/**
 * The release this device should move to: the newest for its compatible string that is newer than what
 * runs. Pre-releases (1.3.0-beta.1) only on a channel that publishes them; the index decides that.
 */
export function newestFor(index: UpdateIndex, compatible: string, current: string): Release | undefined {
  return index.releases
    .filter((r) => r.compatible === compatible && semver.gt(r.version, current))
    .sort((a, b) => semver.rcompare(a.version, b.version))[0];
}

/** Whether moving from `current` to `target` is a downgrade (refused unless the request allows it). */
export const isDowngrade = (current: string, target: string): boolean => semver.lt(target, current);

export const isVersion = (v: string): boolean => semver.valid(v) !== null;
