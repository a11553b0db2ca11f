/**
 * printbox-firstboot: read printbox.txt → apply system settings → link (or go offline) → rewrite the
 * file without its secrets → marker. Idempotent and power-cut safe:
 *  - the marker stores the SHA-256 of the file as we left it; an unchanged file is skipped, an
 *    edited one (new credentials, new Wi-Fi) is processed again;
 *  - the link is saved before the file is scrubbed, and the cloud treats a repeated link from the
 *    same device serial as the same link, so a kill at any point converges on rerun.
 * Status goes to the journal (logger), to cloud/firstboot.json (GET /api/cloud) and into the file.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../shared/errors.ts';
import type { Logger } from '../shared/log.ts';
import { removeStaleTemps } from '../shared/link/atomic.ts';
import type { CloudLink } from '../shared/link/service.ts';
import type { FirstbootResult, LinkStore } from '../shared/link/store.ts';
import type { LinkCredentials } from '../shared/cloud-client.ts';
import { applySystemSettings, type ApplyDeps } from './apply.ts';
import { parseBootFile, SECRET_KEYS, type BootSettings, type Parsed } from './parse.ts';
import { quarantineBootFile, renderBootFile, writeBootFile } from './rewrite.ts';

export interface FirstbootDeps {
  bootDir: string;
  store: LinkStore;
  link: CloudLink;
  apply: ApplyDeps;
  log: Logger;
  /** Backoff while the cloud is unreachable: first delay, cap, and total time before giving up until next boot. */
  retry: { baseMs: number; maxMs: number; deadlineMs: number };
}

export interface FirstbootOutcome { result: FirstbootResult | 'skipped'; error?: string }

const FILE = 'printbox.txt';
const sha = (b: Buffer | string) => crypto.createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stamp = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

export async function runFirstboot(deps: FirstbootDeps): Promise<FirstbootOutcome> {
  const file = path.join(deps.bootDir, FILE);
  removeStaleTemps(deps.bootDir, FILE);
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch {
    if (deps.store.hasMarker()) return { result: 'skipped' };
    const error = `no ${FILE} in ${deps.bootDir}: nothing to set up at boot — link from the web UI or with \`printbox link\``;
    deps.log.info(error);
    deps.store.saveFirstboot({ result: 'missing', error });
    return { result: 'missing', error };
  }
  if (markerHash(deps.store) === sha(buf)) {
    deps.log.info(`${FILE} unchanged since the last run; nothing to do`);
    return { result: 'skipped' };
  }
  const parsed = parseBootFile(buf);
  for (const w of parsed.warnings) deps.log.warn(`${FILE}: ${w}`);
  if (parsed.errors.length) return fail(deps, file, parsed, parsed.errors, new Set(), parsed.eol);

  let applied: string[];
  try {
    applied = await applySystemSettings(deps.apply, parsed.settings);
  } catch (e) {
    return fail(deps, file, parsed, [`applying system settings failed: ${(e as Error).message}`], new Set(), parsed.eol);
  }
  // Wi-Fi's password now lives in the NetworkManager keyfile; the copy on FAT must go either way.
  const scrub = new Set(parsed.settings.wifi?.password ? ['wifi_password'] : []);
  const linked = await linkStep(deps, parsed.settings);
  if (linked.consumed) ['password', 'link_token'].forEach((k) => scrub.add(k));
  if (linked.error) return fail(deps, file, parsed, [linked.error], scrub, parsed.eol);

  const what = [linked.summary, ...applied.map((a) => `applied ${a}`)].filter(Boolean).join('; ') || 'nothing to apply';
  const result: FirstbootResult = linked.result ?? 'applied';
  const secretsLeft = parsed.lines.some((l) => l.key && SECRET_KEYS.has(l.key) && l.value && !scrub.has(l.key));
  const text = renderBootFile({
    lines: parsed.lines, scrub, eol: parsed.eol,
    result: [`${stamp()} OK: ${what}${scrub.size ? '; secret values removed' : ''}`, ...parsed.warnings.map((w) => `warning: ${w}`)],
  });
  writeBootFile(file, text);
  if (secretsLeft) deps.log.warn(`${FILE} still holds a secret value that was not used`);
  deps.store.writeMarker(`sha256=${sha(text)} ${result}`);
  deps.store.saveFirstboot({ result, ...(parsed.warnings.length ? { warnings: parsed.warnings } : {}) });
  deps.log.info(`first boot: ${what}`);
  return { result };
}

function markerHash(store: LinkStore): string | undefined {
  try { return /sha256=([0-9a-f]{64})/.exec(fs.readFileSync(store.markerPath, 'utf8'))?.[1]; } catch { return undefined; }
}


interface LinkOutcome { result?: FirstbootResult; summary?: string; error?: string; consumed: boolean }

async function linkStep(deps: FirstbootDeps, s: BootSettings): Promise<LinkOutcome> {
  const creds: LinkCredentials | undefined = s.linkToken ? { link_token: s.linkToken }
    : s.email && s.password ? { email: s.email, password: s.password } : undefined;
  if (creds) return linkWithRetry(deps, creds, s.cloudUrl);
  const current = deps.store.read();
  if (s.email) {
    // The secret was already used and scrubbed (e.g. power cut after the rewrite, before the marker).
    if (current.state === 'linked' && current.owner?.email.toLowerCase() === s.email.toLowerCase()) {
      return { result: 'linked', summary: `linked to the cloud as ${current.owner.email}`, consumed: false };
    }
    return { error: 'email needs a password or a link_token to link this device', consumed: false };
  }
  if (s.offline) {
    await deps.link.goOffline();
    return { result: 'offline', summary: 'offline mode (no cloud)', consumed: false };
  }
  return { consumed: false };
}

async function linkWithRetry(deps: FirstbootDeps, creds: LinkCredentials, cloudUrl?: string): Promise<LinkOutcome> {
  const started = Date.now();
  let delay = deps.retry.baseMs;
  for (let attempt = 1; ; attempt++) {
    try {
      const st = await deps.link.link(creds, cloudUrl ? { cloudUrl } : {});
      return { result: 'linked', summary: `linked to the cloud as ${st.owner?.email}`, consumed: true };
    } catch (e) {
      const err = e instanceof AppError ? e : new AppError('internal', 500, (e as Error).message);
      if (err.code !== 'cloud_unreachable') {
        // Rejected credentials are used up: remove them so a wrong password does not linger on the card.
        const consumed = err.code === 'cloud_rejected';
        return { error: `linking failed: ${err.message}`, consumed };
      }
      if (Date.now() - started + delay > deps.retry.deadlineMs) {
        return { error: `linking failed: ${err.message}; gave up after ${attempt} attempts, will try again at the next boot`, consumed: false };
      }
      const msg = `waiting for the cloud (attempt ${attempt}): ${err.message}`;
      deps.log.warn(msg);
      deps.store.saveFirstboot({ result: 'pending', error: msg });
      await sleep(delay);
      delay = Math.min(deps.retry.maxMs, delay * 2);
    }
  }
}

function fail(deps: FirstbootDeps, file: string, parsed: Parsed, errors: string[], scrub: Set<string>, eol: '\n' | '\r\n'): FirstbootOutcome {
  const error = errors.join('; ');
  for (const e of errors) deps.log.error(`${FILE}: ${e}`);
  const result = [...errors.map((e) => `${stamp()} ERROR: ${e}`), ...parsed.warnings.map((w) => `warning: ${w}`)];
  try {
    if (parsed.kind === 'binary') quarantineBootFile(file, result);
    // UTF-16 is rewritten as UTF-8 text, so after checking it the user only needs to reboot.
    else writeBootFile(file, renderBootFile({ lines: parsed.lines, scrub, result, eol }));
  } catch (e) {
    deps.log.error(`could not write the error back into ${FILE}: ${(e as Error).message}`);
  }
  deps.store.saveFirstboot({ result: 'error', error, ...(parsed.warnings.length ? { warnings: parsed.warnings } : {}) });
  return { result: 'error', error };
}
