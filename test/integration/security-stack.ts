/**
 * Test stack for the account-security integration tests: real system accounts (useradd/chpasswd) checked by
 * the real PAM helper (services/auth/main.ts), and the real web service (services/web/main.ts) on
 * HTTPS with its own data/run dirs and an ephemeral port. Requests default to the source address
 * 127.0.0.2, so the "local" (127.0.0.1) bypass never applies; `local: true` uses 127.0.0.1.
 * Built on the shared helpers (test/helpers/web.ts, pam.ts); this file only adds the account-security shape.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { createGroup, createUser } from '../helpers/pam.ts';
import { request, sessionCookie, spawnService, startAuth, startWeb, tempDir, type Reply as WebReply, type RequestOptions as WebRequestOptions, type Service } from '../helpers/web.ts';

export interface TestUser { name: string; password: string; groups: string[] }

/** `json` is undefined (not {}) when the body is not JSON. */
export interface Reply extends Omit<WebReply, 'json'> { json: unknown }

/** `body` is always JSON-encoded (a string body becomes a JSON string); `raw` is sent verbatim. */
export interface RequestOptions extends Pick<WebRequestOptions, 'method' | 'path' | 'body' | 'raw' | 'headers' | 'cookie' | 'bearer'> {
  /** From 127.0.0.1, where the local bypass applies. */
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

export const cookieOf: (r: Reply) => string | undefined = sessionCookie;

/** Service start-up under a loaded machine (several suites at once) can take far longer than usual. */
const START_TIMEOUT_MS = 60_000;

export async function startStack(opts: { userSpecs?: Array<{ key: string; role: 'admins' | 'operators' | 'plain' }>; env?: Record<string, string>; printer?: boolean } = {}): Promise<Stack> {
  const tag = crypto.randomBytes(3).toString('hex');
  const base = tempDir('sec-stack');
  const dataDir = path.join(base, 'data');
  const runDir = path.join(base, 'run');
  fs.mkdirSync(dataDir); fs.mkdirSync(runDir);
  const groups = { admins: `pbsa${tag}`, operators: `pbso${tag}`, plain: `pbsp${tag}` };
  const users: Record<string, TestUser> = {};
  const undo: Array<() => void> = [];
  const services: Service[] = [];
  const cleanup = async () => {
    for (const svc of services) await svc.stop();
    for (const u of undo.reverse()) u();
    fs.rmSync(base, { recursive: true, force: true });
  };
  try {
    for (const g of Object.values(groups)) undo.push(createGroup(g));
    for (const spec of opts.userSpecs ?? []) {
      const g = [groups[spec.role], ...(spec.role === 'plain' ? [] : [groups.plain])];
      const u = createUser({ groups: g });
      undo.push(u.remove);
      users[spec.key] = { name: u.name, password: u.password, groups: g };
    }
    const pamGroups = Object.values(groups).join(',');
    // One env for every service, as on the device (auth.key and the web's data share dataDir); the
    // helpers add the web's ephemeral ports and 127.0.0.1 bind.
    const env = {
      PRINTBOX_DATA_DIR: dataDir, PRINTBOX_RUN_DIR: runDir, PRINTBOX_LOG_LEVEL: 'info', PRINTBOX_PAM_GROUPS: pamGroups,
      PRINTBOX_PAM_SERVICE: fs.existsSync('/etc/pam.d/printbox') ? 'printbox' : 'common-auth',
      PRINTBOX_ROLE_MAP: `${groups.admins}:admin,${groups.operators}:operator`,
      PRINTBOX_HOSTNAME: 'printbox-test', PRINTBOX_STATIC_DIR: path.join(base, 'static'), PRINTBOX_VIRTUAL_PRINTERS: '1',
      ...opts.env,
    };
    services.push(await startAuth({ runDir, dataDir, groups: pamGroups, env, timeoutMs: START_TIMEOUT_MS }));
    if (opts.printer) {
      // The real printer service with one simulated printer, so printer/file routes reach real code.
      const printer = spawnService('services/printer/main.ts', env);
      services.push(printer);
      await printer.waitFor(/printer service ready/, START_TIMEOUT_MS);
    }
    const web = await startWeb({ dataDir, runDir, env, timeoutMs: START_TIMEOUT_MS });
    services.push(web);

    const req = async (o: RequestOptions): Promise<Reply> => {
      const sendsBody = o.raw !== undefined || o.body !== undefined;
      const r = await request(web, {
        method: o.method ?? (sendsBody ? 'POST' : 'GET'), path: o.path,
        ...(o.raw !== undefined ? { raw: o.raw } : { body: o.body === undefined ? undefined : JSON.stringify(o.body) }),
        headers: { host: `localhost:${web.httpsPort}`, ...o.headers },
        cookie: o.cookie, bearer: o.bearer, localAddress: o.local ? '127.0.0.1' : o.from ?? '127.0.0.2', timeoutMs: 20_000,
      });
      let json: unknown; // undefined, not {}, when the body is not JSON
      try { json = JSON.parse(r.text); } catch { /* not JSON */ }
      return { ...r, json };
    };

    return {
      port: web.httpsPort, dataDir, runDir, users, groups, req,
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
      alive: () => services.every((s) => s.child.exitCode === null && s.child.signalCode === null),
      webLog: () => web.lines.join('\n'),
      stop: cleanup,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
