/**
 * Start the real PrintBox processes for integration tests (auth helper, web) on loopback with temp
 * dirs and OS-assigned ports, and talk to the web over real HTTPS with the device cert pinned.
 * Every process started here is stopped by stop() (and killed on test-process exit as a backstop).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCert } from './tls.ts';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const live = new Set<ChildProcess>();
process.on('exit', () => { for (const c of live) c.kill('SIGKILL'); });

export interface Service {
  child: ChildProcess;
  /** stdout+stderr lines so far. */
  lines: string[];
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

export function spawnService(script: string, env: Record<string, string>): Service {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, script)], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const onData = (buf: Buffer) => {
    lines.push(...buf.toString().split('\n').filter(Boolean));
    for (const w of waiters) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<void>((resolve) => child.once('exit', () => { live.delete(child); resolve(); for (const w of waiters) w(); }));
  return {
    child,
    lines,
    waitFor(re, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = lines.find((l) => re.test(l));
          if (hit) { done(); resolve(hit); return; }
          if (child.exitCode !== null || child.signalCode !== null) { done(); reject(new Error(`${script} exited before ${re}:\n${lines.join('\n')}`)); }
        };
        const timer = setTimeout(() => { done(); reject(new Error(`timeout waiting for ${re} from ${script}:\n${lines.join('\n')}`)); }, timeoutMs);
        const done = () => { clearTimeout(timer); waiters.delete(check); };
        waiters.add(check);
        check();
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

export const tempDir = (tag: string) => fs.mkdtempSync(path.join(os.tmpdir(), `printbox-${tag}-`));

export interface AuthHelper extends Service { runDir: string }

export async function startAuth(opts: { runDir: string; groups?: string; dataDir?: string; env?: Record<string, string>; timeoutMs?: number }): Promise<AuthHelper> {
  const svc = spawnService('services/auth/main.ts', {
    PRINTBOX_RUN_DIR: opts.runDir,
    // auth.key (account-stamp HMAC key) goes here; never the machine's /var/lib/printbox
    PRINTBOX_DATA_DIR: opts.dataDir ?? `${opts.runDir}-auth`,
    PRINTBOX_PAM_GROUPS: opts.groups ?? 'printbox',
    ...opts.env,
  });
  // a helper that never came up is stopped here: the caller has no handle to stop it
  await svc.waitFor(/\[auth\] listening/, opts.timeoutMs).catch(async (e: unknown) => { await svc.stop(); throw e; });
  return { ...svc, runDir: opts.runDir };
}

export interface WebServer extends Service { httpsPort: number; httpPort: number; dataDir: string; ca: string }

export async function startWeb(opts: { dataDir: string; runDir: string; env?: Record<string, string>; timeoutMs?: number }): Promise<WebServer> {
  const svc = spawnService('services/web/main.ts', {
    PRINTBOX_DATA_DIR: opts.dataDir,
    PRINTBOX_RUN_DIR: opts.runDir,
    PRINTBOX_HTTPS_PORT: '0',
    PRINTBOX_HTTP_PORT: '0',
    PRINTBOX_BIND: '127.0.0.1',
    ...opts.env,
  });
  const line = await svc.waitFor(/\[web\] listening/, opts.timeoutMs).catch(async (e: unknown) => { await svc.stop(); throw e; });
  const { https: httpsPort, http: httpPort } = JSON.parse(line.slice(line.indexOf('{'))) as { https: number; http: number };
  return { ...svc, httpsPort, httpPort, dataDir: opts.dataDir, ca: readCert(opts.dataDir) };
}

export type Json = { error?: { code: string; message: string }; [key: string]: unknown };

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** Parsed JSON body ({} when the body is not JSON). */
  json: Json;
}

export interface RequestOptions {
  method?: string;
  path: string;
  /** Object → JSON with Content-Type application/json; string/Buffer → sent as is. */
  body?: unknown;
  /** Sent exactly as given, with no Content-Type added (hostile-input and CSRF cases). */
  raw?: string | Buffer;
  headers?: Record<string, string>;
  /** Source address of the TCP connection (127.0.0.2 = "another machine" for the local-bypass rule). */
  localAddress?: string;
  cookie?: string;
  /** API key sent as "Authorization: Bearer <key>". */
  bearer?: string;
  /** Fail the request with "timeout METHOD path" after this long without activity. */
  timeoutMs?: number;
}

/** One HTTPS request to the web over loopback with the device cert as the only trusted CA. */
export function request(web: Pick<WebServer, 'httpsPort' | 'ca'>, opts: RequestOptions): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Host: `127.0.0.1:${web.httpsPort}`, ...opts.headers };
    let payload: string | Buffer | undefined = opts.raw;
    if (opts.body !== undefined) {
      payload = typeof opts.body === 'string' || Buffer.isBuffer(opts.body) ? opts.body : JSON.stringify(opts.body);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json';
    }
    // explicit: Node sends no Content-Length for a GET/DELETE body, and the server then reads it as the next request
    if (payload !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) headers['Content-Length'] = String(Buffer.byteLength(payload));
    if (opts.cookie) headers.Cookie = opts.cookie;
    if (opts.bearer) headers.Authorization = `Bearer ${opts.bearer}`;
    const req = https.request({
      host: '127.0.0.1', port: web.httpsPort, method: opts.method ?? 'GET', path: opts.path, headers,
      ca: web.ca, localAddress: opts.localAddress ?? '127.0.0.2', agent: false,
      // verify the cert for the address we dial, whatever Host header a test sends
      servername: '', checkServerIdentity: (_host, cert) => tls.checkServerIdentity('127.0.0.1', cert),
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: Json = {};
        try { json = JSON.parse(text) as Json; } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    if (opts.timeoutMs) req.setTimeout(opts.timeoutMs, () => req.destroy(new Error(`timeout ${opts.method ?? 'GET'} ${opts.path}`)));
    req.end(payload);
  });
}

/** "printbox.sid=…" from a Set-Cookie header (name=value only, as a browser would send it back). */
export function sessionCookie(reply: Pick<Reply, 'headers'>): string | undefined {
  const set = reply.headers['set-cookie'];
  const list = Array.isArray(set) ? set : set ? [set] : [];
  const c = list.find((s) => s.startsWith('printbox.sid='));
  return c?.split(';')[0];
}

/** Lines from the auth helper that record an actual pam_authenticate call for `user`. */
export const pamCalls = (auth: Service, user: string) =>
  auth.lines.filter((l) => l.includes('pam_authenticate') && l.includes(`"user":"${user}"`)).length;

/**
 * A multipart/form-data body with one file field, as a browser sends it (a `"` in the name becomes %22).
 * `field` is "file" for the contract's upload.
 */
export function multipart(filename: string, content: string | Buffer, field = 'file'): { body: Buffer; headers: Record<string, string> } {
  const boundary = `----printbox-test-${Math.random().toString(16).slice(2)}`;
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename.replace(/"/g, '%22')}"\r\nContent-Type: application/octet-stream\r\n\r\n`;
  return {
    body: Buffer.concat([Buffer.from(head, 'utf8'), Buffer.from(content), Buffer.from(`\r\n--${boundary}--\r\n`)]),
    headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}` },
  };
}

/** The printer service with `count` virtual printers beside a test's web, sharing its run dir; resolves once one is connected. */
export async function startVirtualPrinters(opts: { base: string; runDir: string; count?: number }): Promise<Service> {
  const svc = spawnService('services/printer/main.ts', {
    PRINTBOX_DATA_DIR: path.join(opts.base, 'printer-data'), PRINTBOX_RUN_DIR: opts.runDir, PRINTBOX_VIRTUAL_PRINTERS: String(opts.count ?? 1),
  });
  await svc.waitFor(/printer connected/);
  return svc;
}

/** Signs in with a PAM account over HTTPS (from 127.0.0.2) and returns the session cookie; fails unless 200. */
export async function signIn(w: Pick<WebServer, 'httpsPort' | 'ca'>, account: { name: string; password: string }): Promise<string> {
  const r = await request(w, { method: 'POST', path: '/api/auth/login', body: { username: account.name, password: account.password } });
  if (r.status !== 200) throw new Error(`login of ${account.name} answered ${r.status}: ${r.text}`);
  const cookie = sessionCookie(r);
  if (!cookie) throw new Error('login set no session cookie');
  return cookie;
}
