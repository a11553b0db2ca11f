/**
 * The device-administration routes in front of the real printer service (a virtual printer on a pty,
 * printing): restart and power-off refused while a job prints or waits paused unless forced, bad input
 * refused before any system tool runs, and the routes off (503) unless PRINTBOX_SYSTEM_ADMIN is on.
 * The system tools are recorded here rather than run (this would restart the test machine); the
 * booted image runs them for real (test/image/admin-checks.ts).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import session from 'express-session';
import { loadConfig } from '../../services/shared/config.ts';
import { openDb, type Db } from '../../services/shared/db.ts';
import type { AuthApi, PrinterApi } from '../../services/shared/ipc.ts';
import { IpcClient } from '../../services/shared/ipc-transport.ts';
import { createLogger } from '../../services/shared/log.ts';
import { createApp } from '../../services/web/app.ts';
import { webSchema } from '../../services/web/config.ts';
import type { WebDeps } from '../../services/web/deps.ts';
import { createHostCheck } from '../../services/web/hosts.ts';
import { unlinkedOwner } from '../../services/web/owner.ts';
import { createSystemAdmin } from '../../services/web/system/admin.ts';
import type { Tool } from '../../services/shared/tools.ts';
import { LoginThrottle } from '../../services/web/throttle.ts';
import { startPrinterStack, type PrinterStack } from '../helpers/printer-stack.ts';
import { gcodeLines } from '../helpers/virtual-printer.ts';

let stack: PrinterStack;
let db: Db;
let server: http.Server;
let deps: WebDeps;
const ran: string[][] = [];
const tool: Tool = async (cmd, args) => {
  ran.push([cmd, ...args]);
  if (cmd === 'timedatectl' && args[0] === 'list-timezones') return 'Europe/Berlin\nUTC\n';
  return '';
};

before(async () => {
  stack = await startPrinterStack({
    tag: 'sysadmin', printers: { 'vp-1': { baud: 115_200, latencyMs: 3 } },
    files: { 'long.gcode': ['G28', 'G1 Z0.2 F600', ...gcodeLines(40_000)].join('\n') },
  });
  await stack.untilState('vp-1', 'idle');
  const log = createLogger({ scope: 'test', level: 'error' });
  db = await openDb(path.join(stack.dir, 'web.db'), []);
  deps = {
    config: loadConfig(webSchema, { PRINTBOX_DATA_DIR: stack.dir, PRINTBOX_RUN_DIR: stack.runDir, PRINTBOX_STATIC_DIR: stack.dir }).config,
    version: 'test', log, db,
    pam: new IpcClient<AuthApi>({ path: path.join(stack.runDir, 'auth.sock'), service: 'auth' }),
    printer: new IpcClient<PrinterApi>({ path: path.join(stack.runDir, 'printer.sock'), service: 'printer', timeoutMs: 5000 }),
    owner: unlinkedOwner,
    throttle: new LoginThrottle(),
    hosts: createHostCheck({ hostname: () => 'printbox', interfaces: () => ({}) }),
    tls: { cert: '', fingerprint256: '', validTo: '', sans: [] },
    sessionStore: new session.MemoryStore(),
    sessionSecret: 'test-secret',
    admin: createSystemAdmin(tool),
  };
  server = http.createServer(createApp(deps));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});

after(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await db?.close();
  await stack?.close();
});

/** From 127.0.0.1: the device itself, which needs no login (CONTRACT.md). */
function call(method: string, urlPath: string, body?: unknown): Promise<{ status: number; json: { error?: { code: string; message: string; details?: { printers?: string[] } } } & Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, method, path: urlPath,
      headers: { Host: '127.0.0.1', ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : {} }));
    });
    req.on('error', reject);
    req.end(body !== undefined ? JSON.stringify(body) : undefined);
  });
}

const powerCalls = () => ran.filter((c) => c[0] === 'systemctl');

test('restart and power-off are refused while a job prints, and the print goes on; force goes through', { timeout: 60_000 }, async () => {
  const job = await stack.printUntil('vp-1', 'long.gcode', 200);
  for (const action of ['reboot', 'shutdown']) {
    const r = await call('POST', `/api/system/${action}`, {});
    assert.equal(r.status, 409, JSON.stringify(r.json));
    assert.equal(r.json.error?.code, 'print_running');
    assert.deepEqual(r.json.error?.details?.printers, ['vp-1']);
    assert.match(r.json.error?.message ?? '', /would stop the print on vp-1/);
  }
  assert.deepEqual(powerCalls(), [], 'no system tool ran');
  const bad = await call('POST', '/api/system/reboot', { force: 'yes' });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error?.code, 'invalid_force');
  const later = await stack.until(async () => { const j = await stack.client.call('jobs.get', { printerId: 'vp-1' }); return j.lines_sent > job.lines_sent + 200 && j; }, 20_000, 'the print going on');
  assert.equal(later.state, 'printing');
  const forced = await call('POST', '/api/system/shutdown', { force: true });
  assert.equal(forced.status, 202);
  assert.deepEqual(forced.json, { action: 'poweroff', force: true });
  assert.deepEqual(powerCalls(), [['systemctl', '--no-ask-password', 'poweroff']]);
});

test('a paused job counts as a print; once it is cancelled, restart goes through', { timeout: 60_000 }, async () => {
  const paused = await stack.client.call('jobs.pause', { printerId: 'vp-1' }, 35_000);
  assert.equal(paused.state, 'paused');
  const r = await call('POST', '/api/system/reboot', {});
  assert.equal(r.status, 409);
  assert.equal(r.json.error?.code, 'print_running');
  await stack.client.call('jobs.cancel', { printerId: 'vp-1' }, 35_000);
  ran.length = 0;
  const ok = await call('POST', '/api/system/reboot', {});
  assert.equal(ok.status, 202, JSON.stringify(ok.json));
  assert.deepEqual(powerCalls(), [['systemctl', '--no-ask-password', 'reboot']]);
});

test('bad input is refused before any system tool runs; a good hostname and timezone reach them', async () => {
  ran.length = 0;
  const cases: [string, string, unknown, string][] = [
    ['PUT', '/api/system/hostname', { hostname: 'my printer' }, 'invalid_hostname'],
    ['PUT', '/api/system/hostname', {}, 'invalid_hostname'],
    ['PUT', '/api/system/timezone', { timezone: '../../etc/passwd' }, 'invalid_timezone'],
    ['POST', '/api/system/wifi', { ssid: 'x'.repeat(33), psk: 'short' }, 'invalid_wifi'],
    ['DELETE', '/api/system/wifi/not-a-uuid', undefined, 'invalid_connection'],
    ['GET', '/api/system/wifi/networks?rescan=maybe', undefined, 'invalid_rescan'],
  ];
  for (const [method, p, body, code] of cases) {
    const r = await call(method, p, body);
    assert.equal(r.status, 400, `${method} ${p}`);
    assert.equal(r.json.error?.code, code, `${method} ${p}`);
  }
  assert.deepEqual(ran, []);
  const unknown = await call('PUT', '/api/system/timezone', { timezone: 'Mars/Olympus_Mons' });
  assert.equal(unknown.status, 400);
  assert.equal(unknown.json.error?.code, 'unknown_timezone');
  assert.equal((await call('PUT', '/api/system/hostname', { hostname: 'Workshop-2' })).status, 200);
  assert.equal((await call('PUT', '/api/system/timezone', { timezone: 'Europe/Berlin' })).status, 200);
  assert.deepEqual(ran.filter((c) => c[0] !== 'timedatectl' || c[1] !== 'list-timezones'), [
    ['hostnamectl', '--static', '--transient', 'set-hostname', 'workshop-2'],
    ['timedatectl', 'set-timezone', 'Europe/Berlin'],
  ]);
});

test('with the printer service down, a restart is refused as unknown rather than risked', { timeout: 30_000 }, async () => {
  await stack.stopPrinter();
  ran.length = 0;
  const r = await call('POST', '/api/system/reboot', {});
  assert.equal(r.status, 409);
  assert.equal(r.json.error?.code, 'print_state_unknown');
  assert.deepEqual(powerCalls(), []);
});

test('without device administration (not the image) every admin route answers 503 and runs nothing', async () => {
  const saved = deps.admin;
  delete deps.admin;
  ran.length = 0;
  try {
    for (const [method, p, body] of [['GET', '/api/system/settings'], ['GET', '/api/system/network'], ['POST', '/api/system/reboot', { force: true }], ['PUT', '/api/system/hostname', { hostname: 'x' }]] as const) {
      const r = await call(method, p, body);
      assert.equal(r.status, 503, p);
      assert.equal(r.json.error?.code, 'system_admin_disabled', p);
    }
    assert.deepEqual(ran, []);
  } finally { deps.admin = saved; }
});
