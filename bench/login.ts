/**
 * `npm run bench -- login`: POST /api/auth/login over HTTPS at 1, 10 and 50 concurrent clients, through
 * the real web, the real PAM helper (root, Unix socket) and the reference cloud (its own process, as
 * `npm run cloud:dev` starts it), with the web's event-loop delay measured from outside meanwhile.
 *
 * PAM path: one real system account per client (useradd, member of `printbox`, removed afterwards).
 * Cloud-owner path: a device has exactly one owner, so every client signs in as that owner; the
 * per-account throttle admits 5 attempts in flight and answers the rest 429 by design (attempts are
 * counted when they start, services/web/throttle.ts), which is reported, not worked around.
 * Each client has its own source address (127.0.x.y, never 127.0.0.1, which is the local-admin bypass)
 * and its own keep-alive TLS connection, opened before the clock starts, so the figures are the login
 * itself, not the handshake; the throttle is per address, and a success clears its counters.
 *
 * Event-loop delay of the web: no debug hook exists in the web, so a probe sends GET /api/health on its
 * own keep-alive connection every 10 ms and times the answer. Its latency is the event loop's delay
 * plus a constant; the peer is the same probe against the idle web just before each level. PAM runs in
 * the auth helper and argon2 on libuv's pool, so the probe should stay near idle while logins queue: a
 * loop blocked by each check would hold every probe for about a login's time. The same probe against a bare
 * Node https server beside it (bench/echo-server.ts) during the same load shows what the shared machine's
 * scheduling alone adds.
 * Env (bench only): BENCH_LOGIN_USERS (default 50 = the largest concurrency).
 */
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import fs from 'node:fs';
import { createUser, ensureGroup, type TestUser } from '../test/helpers/pam.ts';
import { request, spawnService, startAuth, startWeb, tempDir, type Service, type WebServer } from '../test/helpers/web.ts';
import { cpuSeconds } from './proc.ts';

const LEVELS = [1, 10, 50];
const USERS = Number(process.env.BENCH_LOGIN_USERS ?? Math.max(...LEVELS));
const OWNER = { email: 'owner@bench.test', password: 'bench owner password' };
/** Logins per client: enough samples for a p99 at 1 client, a few rounds at 50. */
const rounds = (c: number) => Math.max(3, Math.ceil(60 / c));

interface Sample { ms: number; status: number }
type Target = Pick<WebServer, 'httpsPort' | 'ca'>;
type Conn = { agent: https.Agent; web: Target };

function connect(web: Target, localAddress: string): Conn {
  return { web, agent: new https.Agent({ keepAlive: true, maxSockets: 1, localAddress, ca: web.ca, servername: '', checkServerIdentity: (_h, cert) => tls.checkServerIdentity('127.0.0.1', cert) }) };
}

/** One request on the client's own connection; resolves with its latency and status. */
function send(conn: Conn, method: string, urlPath: string, body?: unknown): Promise<Sample> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port: conn.web.httpsPort, method, path: urlPath, agent: conn.agent,
      headers: { Host: `127.0.0.1:${conn.web.httpsPort}`, ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(payload)) } : {}) },
    }, (res) => { res.resume(); res.on('end', () => resolve({ ms: performance.now() - t0, status: res.statusCode ?? 0 })); });
    req.on('error', reject);
    req.end(payload);
  });
}

/** GET /api/health every 10 ms until stop(); the latencies. */
function probe(web: Target, localAddress: string): { stop(): Promise<number[]> } {
  const conn = connect(web, localAddress);
  const out: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      out.push((await send(conn, 'GET', '/api/health')).ms);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return { async stop() { running = false; await loop; conn.agent.destroy(); return out; } };
}

const pctl = (xs: number[], p: number) => { if (!xs.length) return NaN; const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!; };
const ms = (x: number) => (Number.isNaN(x) ? '   –' : x.toFixed(1).padStart(6));

interface Level { path: 'pam' | 'cloud'; c: number; samples: Sample[]; idle: number[]; probe: number[]; control: number[]; wall: number; webCpu: number; authCpu: number }

async function runLevel({ web, auth, echo }: { web: WebServer; auth: Service; echo: Target }, kind: 'pam' | 'cloud', c: number, users: TestUser[]): Promise<Level> {
  const subnet = kind === 'pam' ? 1 : 2;
  const conns = Array.from({ length: c }, (_, i) => connect(web, `127.0.${subnet}.${i + 2}`));
  await Promise.all(conns.map((k) => send(k, 'GET', '/api/health'))); // TLS handshakes before the clock
  const body = (i: number) => (kind === 'pam' ? { username: users[i]!.name, password: users[i]!.password } : OWNER);
  const samples: Sample[] = [];
  // The idle peer right before each level: the shared machine's load changes from minute to minute.
  const before = probe(web, '127.0.3.1');
  await new Promise((r) => setTimeout(r, 1500));
  const idle = await before.stop();
  const p = probe(web, '127.0.3.1');
  const q = probe(echo, '127.0.3.3');
  const cpu0 = cpuSeconds(web.child.pid!);
  const auth0 = cpuSeconds(auth.child.pid!);
  const t0 = performance.now();
  await Promise.all(conns.map(async (k, i) => {
    for (let r = 0; r < rounds(c); r++) samples.push(await send(k, 'POST', '/api/auth/login', body(i)));
  }));
  const wall = (performance.now() - t0) / 1000;
  const webCpu = (cpuSeconds(web.child.pid!) - cpu0) / wall;
  const authCpu = (cpuSeconds(auth.child.pid!) - auth0) / wall;
  const probeMs = await p.stop();
  const control = await q.stop();
  conns.forEach((k) => k.agent.destroy());
  return { path: kind, c, samples, idle, probe: probeMs, control, wall, webCpu, authCpu };
}

const freePort = () => new Promise<number>((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address() as net.AddressInfo; s.close(() => resolve(port)); });
});

function report(levels: Level[]): void {
  process.stdout.write(`\nLogin under load: POST /api/auth/login over HTTPS (keep-alive, one source address per client), latency in ms;\n` +
    `  cloud = the one linked owner from every client (429 beyond 5 in flight is the per-account throttle); CPU = share of one core:\n`);
  process.stdout.write(`  event-loop probe: GET /api/health every 10 ms during the logins; its peers: the same probe for 1.5 s against the idle web just before,\n` +
    `  and a control probe of a bare Node https server (bench/echo-server.ts) during the same logins — what machine load alone adds\n`);
  for (const l of levels) {
    const ok = l.samples.filter((s) => s.status === 200).map((s) => s.ms);
    const other = l.samples.filter((s) => s.status !== 200);
    const codes = [...new Set(other.map((s) => s.status))].map((st) => `${other.filter((s) => s.status === st).length}× ${st}`).join(', ');
    process.stdout.write(`  ${l.path.padEnd(5)} ${String(l.c).padStart(2)} clients: ${String(ok.length).padStart(3)} logins ok, p50 ${ms(pctl(ok, 50))}  p99 ${ms(pctl(ok, 99))}` +
      `${codes ? ` (${codes})` : ''}, ${(l.samples.length / l.wall).toFixed(1)} attempts/s; CPU web ${(l.webCpu * 100).toFixed(0)}% ` +
      `(${((l.webCpu * l.wall * 1000) / l.samples.length).toFixed(1)} ms per attempt), PAM helper ${(l.authCpu * 100).toFixed(0)}%\n` +
      `      probe under load p50 ${ms(pctl(l.probe, 50))}  p99 ${ms(pctl(l.probe, 99))}  max ${ms(Math.max(...l.probe))} (${l.probe.length}); ` +
      `idle p50 ${ms(pctl(l.idle, 50))}  p99 ${ms(pctl(l.idle, 99))} (${l.idle.length}); p50 ${(pctl(l.probe, 50) / pctl(l.idle, 50)).toFixed(1)}×, p99 ${(pctl(l.probe, 99) / pctl(l.idle, 99)).toFixed(1)}× idle\n` +
      `      control (bare https server beside it, same load) p50 ${ms(pctl(l.control, 50))}  p99 ${ms(pctl(l.control, 99))}  max ${ms(Math.max(...l.control))} (${l.control.length})\n`);
  }
}

export async function loginBench(): Promise<void> {
  const dir = tempDir('bench-login');
  const dataDir = path.join(dir, 'data'); const runDir = path.join(dir, 'run');
  fs.mkdirSync(dataDir); fs.mkdirSync(runDir);
  ensureGroup('printbox');
  const users: TestUser[] = [];
  let cloud: Service | undefined; let auth: Service | undefined; let web: WebServer | undefined; let echo: Service | undefined;
  try {
    for (let i = 0; i < USERS; i++) users.push(createUser({ groups: ['printbox'] }));
    const cloudPort = await freePort();
    cloud = spawnService('services/cloud/main.ts', { CLOUD_PORT: String(cloudPort), CLOUD_DEV_EMAIL: OWNER.email, CLOUD_DEV_PASSWORD: OWNER.password });
    await cloud.waitFor(/reference cloud on/);
    auth = await startAuth({ runDir });
    web = await startWeb({ dataDir, runDir, env: { PRINTBOX_ROLE_MAP: 'printbox:admin', PRINTBOX_CLOUD_URL: `http://127.0.0.1:${cloudPort}` } });
    echo = spawnService('bench/echo-server.ts', { ECHO_TLS_DIR: path.join(dataDir, 'tls') });
    const echoPort = (JSON.parse((await echo.waitFor(/\[echo\] listening/)).replace(/^.*?\{/, '{')) as { port: number }).port;
    const control: Target = { httpsPort: echoPort, ca: web.ca };
    const link = await request(web, { method: 'POST', path: '/api/cloud/link', body: OWNER, localAddress: '127.0.0.1' });
    if (link.status !== 200) throw new Error(`cloud link answered ${link.status}: ${link.text}`);
    // One login per path first: JIT, lazily opened session and audit stores, the cached owner verifier.
    const warm = connect(web, '127.0.3.2');
    for (const b of [{ username: users[0]!.name, password: users[0]!.password }, OWNER]) {
      const r = await send(warm, 'POST', '/api/auth/login', b);
      if (r.status !== 200) throw new Error(`warm-up login answered ${r.status}`);
    }
    warm.agent.destroy();
    const levels: Level[] = [];
    for (const kind of ['pam', 'cloud'] as const) {
      for (const c of LEVELS.filter((l) => l <= USERS)) levels.push(await runLevel({ web, auth, echo: control }, kind, c, users));
    }
    report(levels);
  } finally {
    await echo?.stop(); await web?.stop(); await auth?.stop(); await cloud?.stop();
    users.forEach((u) => u.remove());
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
