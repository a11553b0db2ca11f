/**
 * Test stack for the issue-7 integration tests: real system accounts (useradd/chpasswd) checked by
 * the real PAM helper (services/auth/main.ts), and the real web service (services/web/main.ts) on
 * HTTPS with its own data/run dirs and an ephemeral port. Requests default to the source address
 * 127.0.0.2, so the "local" (127.0.0.1) bypass never applies; `local: true` uses 127.0.0.1.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface TestUser { name: string; password: string; groups: string[] }

export interface Reply { status: number; headers: Record<string, string | string[] | undefined>; text: string; json: unknown }

export interface RequestOptions {
  method?: string;
  path: string;
  body?: unknown;
  /** Sent verbatim (string/Buffer) instead of JSON. */
  raw?: string | Buffer;
  headers?: Record<string, string>;
  cookie?: string;
  bearer?: string;
  local?: boolean;
  /** Source address; default 127.0.0.2 (non-local). */
  from?: string;
}

export interface Stack {
  port: number;
  dataDir: string;
  runDir: string;
  users: Record<string, TestUser>;
  groups: { admins: string; operators: string; plain: string };
  req(o: RequestOptions): Promise<Reply>;
  /** POST /api/auth/login; returns the session cookie ("printbox.sid=…") or throws with the reply. */
  login(user: TestUser, extra?: Record<string, unknown>): Promise<string>;
  /** A key created by the local admin (127.0.0.1) with these permissions or role. */
  key(spec: { permissions?: string[]; role?: string; name?: string; expires_in_days?: number }): Promise<{ key: string; id: number }>;
  alive(): boolean;
  webLog(): string;
  stop(): Promise<void>;
}

const sh = (cmd: string, args: string[], input?: string) => execFileSync(cmd, args, { input, stdio: ['pipe', 'ignore', 'pipe'] });

export function cookieOf(r: Reply): string | undefined {
  const set = r.headers['set-cookie'];
  const list = Array.isArray(set) ? set : set ? [set] : [];
  const c = list.find((s) => s.startsWith('printbox.sid='));
  return c?.split(';')[0];
}

function waitFor(check: () => boolean, what: string, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const t = setInterval(() => {
      if (check()) { clearInterval(t); resolve(); } else if (Date.now() > until) { clearInterval(t); reject(new Error(`timed out waiting for ${what}`)); }
    }, 50);
  });
}

export async function startStack(opts: { userSpecs?: Array<{ key: string; role: 'admins' | 'operators' | 'plain' }>; env?: Record<string, string>; printer?: boolean } = {}): Promise<Stack> {
  const tag = crypto.randomBytes(3).toString('hex');
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-sec-stack-'));
  const dataDir = path.join(base, 'data');
  const runDir = path.join(base, 'run');
  fs.mkdirSync(dataDir); fs.mkdirSync(runDir);
  const groups = { admins: `pbsa${tag}`, operators: `pbso${tag}`, plain: `pbsp${tag}` };
  const users: Record<string, TestUser> = {};
  const made: { users: string[]; groups: string[] } = { users: [], groups: [] };
  const children: ChildProcess[] = [];
  let webOut = '';
  const cleanup = async () => {
    for (const c of children) if (c.exitCode === null) { c.kill('SIGTERM'); await new Promise((r) => c.once('exit', r)); }
    for (const u of made.users) try { sh('userdel', [u]); } catch { /* gone */ }
    for (const g of made.groups) try { sh('groupdel', [g]); } catch { /* gone */ }
    fs.rmSync(base, { recursive: true, force: true });
  };
  try {
    for (const g of Object.values(groups)) { sh('groupadd', [g]); made.groups.push(g); }
    for (const [i, spec] of (opts.userSpecs ?? []).entries()) {
      const name = `pbu${tag}${i}`;
      const password = `pw-${crypto.randomBytes(6).toString('hex')}`;
      const g = [groups[spec.role] , ...(spec.role === 'plain' ? [] : [groups.plain])];
      sh('useradd', ['-M', '-N', '-s', '/usr/sbin/nologin', '-G', g.join(','), name]);
      made.users.push(name);
      sh('chpasswd', [], `${name}:${password}\n`);
      users[spec.key] = { name, password, groups: g };
    }
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      PRINTBOX_DATA_DIR: dataDir, PRINTBOX_RUN_DIR: runDir, PRINTBOX_LOG_LEVEL: 'info',
      PRINTBOX_PAM_GROUPS: Object.values(groups).join(','),
      PRINTBOX_PAM_SERVICE: fs.existsSync('/etc/pam.d/printbox') ? 'printbox' : 'common-auth',
      PRINTBOX_ROLE_MAP: `${groups.admins}:admin,${groups.operators}:operator`,
      PRINTBOX_HTTPS_PORT: '0', PRINTBOX_HTTP_PORT: '0', PRINTBOX_BIND: '127.0.0.1', PRINTBOX_HOSTNAME: 'printbox-test',
      PRINTBOX_STATIC_DIR: path.join(base, 'static'), PRINTBOX_VIRTUAL_PRINTERS: '1',
      ...opts.env,
    };
    const spawnSvc = (file: string) => {
      const c = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, file)], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(c);
      return c;
    };
    const auth = spawnSvc('services/auth/main.ts');
    auth.stderr!.resume(); auth.stdout!.resume();
    await waitFor(() => fs.existsSync(path.join(runDir, 'auth.sock')) || auth.exitCode !== null, 'auth.sock');
    if (opts.printer) {
      // The real printer service with one simulated printer, so printer/file routes reach real code.
      const printer = spawnSvc('services/printer/main.ts');
      printer.stderr!.resume(); printer.stdout!.resume();
      await waitFor(() => fs.existsSync(path.join(runDir, 'printer.sock')) || printer.exitCode !== null, 'printer.sock');
    }
    const web = spawnSvc('services/web/main.ts');
    let port = 0;
    const onData = (d: Buffer) => {
      webOut += d.toString();
      if (webOut.length > 2_000_000) webOut = webOut.slice(-1_000_000);
      const m = /listening \{"https":(\d+)/.exec(webOut);
      if (m && !port) port = Number(m[1]);
    };
    web.stdout!.on('data', onData); web.stderr!.on('data', onData);
    await waitFor(() => port > 0 || web.exitCode !== null, 'web to listen');
    if (!port) throw new Error(`web did not start:\n${webOut}`);

    const req = (o: RequestOptions) => new Promise<Reply>((resolve, reject) => {
      const payload = o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
      const headers: Record<string, string> = { host: `localhost:${port}`, ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}) };
      if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload));
      if (o.cookie) headers.cookie = o.cookie;
      if (o.bearer) headers.authorization = `Bearer ${o.bearer}`;
      Object.assign(headers, o.headers ?? {});
      const r = https.request({
        host: '127.0.0.1', port, method: o.method ?? (payload === undefined ? 'GET' : 'POST'), path: o.path, headers,
        localAddress: o.local ? '127.0.0.1' : o.from ?? '127.0.0.2', rejectUnauthorized: false, agent: false,
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try { json = JSON.parse(text); } catch { json = undefined; }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      });
      r.on('error', reject);
      r.setTimeout(20_000, () => r.destroy(new Error(`timeout ${o.method ?? ''} ${o.path}`)));
      if (payload !== undefined) r.end(payload); else r.end();
    });

    const stack: Stack = {
      port, dataDir, runDir, users, groups, req,
      async login(user, extra = {}) {
        const r = await req({ path: '/api/auth/login', body: { username: user.name, password: user.password, ...extra } });
        const c = cookieOf(r);
        if (r.status !== 200 || !c) throw Object.assign(new Error(`login ${user.name}: ${r.status} ${r.text}`), { reply: r });
        return c;
      },
      async key(spec) {
        const r = await req({ local: true, path: '/api/apikeys', body: { name: spec.name ?? 'test', ...spec } });
        if (r.status !== 201) throw new Error(`key: ${r.status} ${r.text}`);
        const j = r.json as { key: string; id: number };
        return { key: j.key, id: j.id };
      },
      alive: () => children.every((c) => c.exitCode === null),
      webLog: () => webOut,
      stop: cleanup,
    };
    return stack;
  } catch (e) {
    await cleanup();
    throw e;
  }
}
