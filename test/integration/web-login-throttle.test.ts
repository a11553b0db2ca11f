/**
 * The login throttle spans the whole login, second factor included: with the
 * right password but wrong TOTP codes, guesses hit 429 after the per-account allowance, and a right
 * password alone never clears the counters. Runs createApp(deps) in-process with a real IPC server
 * standing in for the PAM helper (it counts calls) and a second factor that always refuses.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import session from 'express-session';
import { loadConfig } from '../../services/shared/config.ts';
import { openDb, type Db } from '../../services/shared/db.ts';
import { AppError } from '../../services/shared/errors.ts';
import type { AuthApi, PrinterApi } from '../../services/shared/ipc.ts';
import { IpcClient, listenIpc, type IpcServer } from '../../services/shared/ipc-transport.ts';
import { createLogger } from '../../services/shared/log.ts';
import { createApp } from '../../services/web/app.ts';
import { webSchema } from '../../services/web/config.ts';
import type { WebDeps } from '../../services/web/deps.ts';
import { createHostCheck } from '../../services/web/hosts.ts';
import { unlinkedOwner } from '../../services/web/owner.ts';
import { LoginThrottle } from '../../services/web/throttle.ts';

let server: http.Server;
let ipc: IpcServer;
let db: Db;
let pamCalls = 0;
let dir: string;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'printbox-throttle-'));
  const log = createLogger({ scope: 'test', level: 'error' });
  ipc = await listenIpc<AuthApi>({
    path: path.join(dir, 'auth.sock'), log,
    handlers: {
      'pam.authenticate': async (p) => { pamCalls++; return { username: p.username, groups: ['printbox'] }; },
      'account.stamp': async () => ({ stamp: null }), // this fake login returns no stamp, so it is never asked
      'ping': async () => ({ ok: true }),
    },
  });
  db = await openDb(path.join(dir, 'test.db'), []);
  const refuseTotp = {
    checkSecondFactor: async (_user: string, code: unknown) => {
      throw new AppError(code === undefined ? 'totp_required' : 'totp_invalid', 401, 'Wrong code');
    },
  };
  const deps: WebDeps = {
    config: loadConfig(webSchema, { PRINTBOX_DATA_DIR: dir, PRINTBOX_RUN_DIR: dir, PRINTBOX_STATIC_DIR: dir }).config,
    version: 'test', log, db,
    pam: new IpcClient<AuthApi>({ path: path.join(dir, 'auth.sock'), service: 'auth' }),
    printer: new IpcClient<PrinterApi>({ path: path.join(dir, 'printer.sock'), service: 'printer' }),
    owner: unlinkedOwner,
    throttle: new LoginThrottle(),
    hosts: createHostCheck({ hostname: () => 'printbox', interfaces: () => ({}) }),
    tls: { cert: '', fingerprint256: '', validTo: '', sans: [] },
    sessionStore: new session.MemoryStore(),
    sessionSecret: 'test-secret',
    security: refuseTotp as unknown as WebDeps['security'], // only the second-factor hook is reached
  };
  server = http.createServer(createApp(deps));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});

after(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await ipc?.close();
  await db?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function login(body: unknown): Promise<{ status: number; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const port = (server.address() as AddressInfo).port;
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/api/auth/login', localAddress: '127.0.0.2',
      headers: { 'Content-Type': 'application/json', Host: '127.0.0.1' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

test('right password + wrong TOTP codes are throttled like wrong passwords', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 12; i++) statuses.push((await login({ username: 'alice', password: 'right', totp: String(100000 + i) })).status);
  assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401]);
  assert.ok(statuses.slice(5).every((s) => s === 429), statuses.join(','));
  assert.equal(pamCalls, 5, 'throttled attempts never reach PAM');
  const r = await login({ username: 'alice', password: 'right' });
  assert.equal(r.status, 429);
  assert.match(r.retryAfter ?? '', /^\d+$/);
});
