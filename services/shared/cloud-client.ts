/**
 * Client for the PrintBox cloud (CONTRACT.md "Cloud protocol"). HTTPS verifies against Node's and
 * the system's CAs plus an optional extra CA (PRINTBOX_CLOUD_CA, used by tests and private clouds); plain HTTP is
 * accepted only because the reference cloud in tests listens on loopback.
 *
 * Failure classes matter to callers, so they get distinct codes:
 *   cloud_unreachable (503) — network error, timeout or 5xx: retry later / fall back to the cached verifier
 *   cloud_rejected    (401) — wrong credentials or revoked device token: never retried
 *   cloud_error       (4xx) — the cloud refused the request (message from the cloud)
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { AppError } from './errors.ts';
import type { Logger } from './log.ts';

export interface DeviceInfo { serial: string; hostname: string; version: string }
export interface Owner { id: string; email: string }
export interface LinkResult { device_token: string; owner: Owner }
export type LinkCredentials = { email: string; password: string } | { link_token: string };

export interface CloudClientDeps {
  url: string;
  /** Extra PEM CA certificate(s) trusted in addition to the system store. */
  extraCa?: string;
  /** Debian's CA bundle; defaults to /etc/ssl/certs/ca-certificates.crt when present. */
  systemCaFile?: string;
  log: Logger;
  /** Per-attempt timeout. */
  timeoutMs?: number;
  /** Attempts for retryable failures (unreachable / 5xx); 1 = no retry. */
  attempts?: number;
  /** First backoff delay; doubles per attempt up to maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export interface CloudClient {
  readonly url: string;
  link(creds: LinkCredentials, device: DeviceInfo): Promise<LinkResult>;
  /** Resolves when the cloud confirms the password; cloud_rejected when it does not. */
  verifyOwner(deviceToken: string, email: string, password: string): Promise<void>;
  unlink(deviceToken: string): Promise<void>;
  /** Who owns this device according to the cloud (autologin check after a restart). */
  self(deviceToken: string): Promise<{ owner: Owner }>;
}

interface RawResponse { status: number; body: unknown }

const SYSTEM_CA_FILE = '/etc/ssl/certs/ca-certificates.crt';

/** The PEM blocks of the system bundle; none when it is absent (dev machines without ca-certificates). */
function systemCas(file = SYSTEM_CA_FILE): string[] {
  let text = '';
  try { text = fs.readFileSync(file, 'utf8'); } catch { return []; }
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createCloudClient(deps: CloudClientDeps): CloudClient {
  const base = new URL(deps.url);
  if (base.protocol !== 'https:' && base.protocol !== 'http:') throw new AppError('config_invalid', 500, `Cloud URL must be http(s), got ${deps.url}`);
  const timeoutMs = deps.timeoutMs ?? 10_000;
  const defaultAttempts = Math.max(1, deps.attempts ?? 3);
  const baseDelay = deps.baseDelayMs ?? 500;
  const maxDelay = deps.maxDelayMs ?? 8000;
  // Node ships its own root store; the device should trust what Debian's ca-certificates trusts too
  // (the OS image is updated as a whole), plus the optional extra CA. One context, built once.
  const secureContext = tls.createSecureContext({ ca: [...tls.rootCertificates, ...systemCas(deps.systemCaFile), ...(deps.extraCa ? [deps.extraCa] : [])] });
  // Own agent: the global one pools sockets without regard to secureContext, so a connection verified
  // with another client's CA set could be reused by this one.
  const agent = new https.Agent({ keepAlive: true, maxSockets: 4 });
  const log = deps.log.child('cloud-client');

  function once(method: string, path: string, body: unknown, token: string | undefined, timeoutMs: number): Promise<RawResponse> {
    const url = new URL(path.replace(/^\//, ''), base.href.endsWith('/') ? base.href : base.href + '/');
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = { accept: 'application/json' };
    if (payload) { headers['content-type'] = 'application/json'; headers['content-length'] = payload.length; }
    if (token) headers.authorization = `Bearer ${token}`;
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const tlsOpts = url.protocol === 'https:' ? { secureContext, agent } as https.RequestOptions : {};
      const req = mod.request(url, { method, headers, timeout: timeoutMs, ...tlsOpts }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => { size += c.length; if (size > 1024 * 1024) req.destroy(new Error('cloud response too large')); else chunks.push(c); });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = undefined;
          try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = undefined; }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  const cloudMessage = (body: unknown, fallback: string): string => {
    const m = (body as { error?: { message?: unknown } } | undefined)?.error?.message;
    return typeof m === 'string' && m.length < 300 ? m : fallback;
  };

  /** One logical request: retries network errors and 5xx with exponential backoff; maps the rest. */
  async function request(method: string, path: string, body: unknown, token?: string, limits: Partial<Record<'attempts' | 'timeoutMs', number>> = {}): Promise<RawResponse> {
    const attempts = limits.attempts ?? defaultAttempts;
    let lastReason = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const res = await once(method, path, body, token, limits.timeoutMs ?? timeoutMs);
        if (res.status < 500) {
          if (res.status === 401) throw new AppError('cloud_rejected', 401, cloudMessage(res.body, 'The cloud rejected the credentials'));
          if (res.status >= 400) throw new AppError('cloud_error', res.status === 409 ? 409 : 400, cloudMessage(res.body, `The cloud refused the request (HTTP ${res.status})`));
          return res;
        }
        lastReason = `HTTP ${res.status}`;
      } catch (err) {
        if (err instanceof AppError) throw err;
        lastReason = (err as Error).message;
      }
      log.warn('cloud request failed', { path, attempt, of: attempts, reason: lastReason });
      if (attempt < attempts) await sleep(Math.min(maxDelay, baseDelay * 2 ** (attempt - 1)));
    }
    throw new AppError('cloud_unreachable', 503, `The cloud at ${base.host} is not reachable (${lastReason})`);
  }

  const isOwner = (o: unknown): o is Owner =>
    !!o && typeof (o as Owner).id === 'string' && typeof (o as Owner).email === 'string';

  return {
    url: base.href,
    async link(creds, device) {
      const res = await request('POST', '/api/v1/devices/link', { ...creds, device });
      const b = res.body as Partial<LinkResult> | undefined;
      if (!b || typeof b.device_token !== 'string' || !isOwner(b.owner)) throw new AppError('cloud_error', 502, 'The cloud sent an invalid link answer');
      return { device_token: b.device_token, owner: { id: b.owner.id, email: b.owner.email } };
    },
    async verifyOwner(deviceToken, email, password) {
      // A person is waiting at the login form and the cached verifier is the fallback: one short try.
      await request('POST', '/api/v1/devices/verify-owner', { email, password }, deviceToken, { attempts: 1, timeoutMs: Math.min(timeoutMs, 5000) });
    },
    async unlink(deviceToken) {
      await request('POST', '/api/v1/devices/unlink', undefined, deviceToken);
    },
    async self(deviceToken) {
      const res = await request('GET', '/api/v1/devices/self', undefined, deviceToken);
      const owner = (res.body as { owner?: unknown } | undefined)?.owner;
      if (!isOwner(owner)) throw new AppError('cloud_error', 502, 'The cloud sent an invalid device answer');
      return { owner: { id: owner.id, email: owner.email } };
    },
  };
}

/**
 * Clients per cloud URL: a device talks to the cloud it was linked to (which printbox.txt may name)
 * even if PRINTBOX_CLOUD_URL says otherwise; `undefined` means the configured default.
 */
export function cloudClientFactory(opts: Omit<CloudClientDeps, 'url'> & { defaultUrl?: string }): (url?: string) => CloudClient | null {
  const cache = new Map<string, CloudClient>();
  return (url) => {
    const u = url ?? opts.defaultUrl;
    if (!u) return null;
    let c = cache.get(u);
    if (!c) { c = createCloudClient({ ...opts, url: u }); cache.set(u, c); }
    return c;
  };
}
