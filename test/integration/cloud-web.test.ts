/**
 * The cloud link through the real web service (services/web/main.ts over HTTPS) against the
 * reference cloud over HTTPS (its CA via PRINTBOX_CLOUD_CA): link from the API, autologin after a
 * restart, owner login / another account / cloud down, unlink refused while printing (printer.sock
 * answered over the real IPC transport), offline mode, first-boot status in GET /api/cloud.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startCloud, type TestCloud } from '../helpers/cloud.ts';
import { request, startWeb, tempDir, type WebServer } from '../helpers/web.ts';
import { createLogger } from '../../services/shared/log.ts';
import { listenIpc, type IpcServer } from '../../services/shared/ipc-transport.ts';
import type { Handlers, PrinterApi } from '../../services/shared/ipc.ts';
import { LinkStore } from '../../services/shared/link/store.ts';

const OWNER = { email: 'owner@example.test', password: 'owner password 1' };
const OTHER = { email: 'other@example.test', password: 'other password 2' };
let cloud: TestCloud;
let dir: string;
let dataDir: string;
let runDir: string;
let web: WebServer | undefined;
let printer: IpcServer | undefined;
let printing: string[] = [];

const local = (path: string, method = 'GET', body?: unknown) => request(web!, { path, method, body, localAddress: '127.0.0.1' });
const remoteLogin = (email: string, password: string) =>
  request(web!, { path: '/api/auth/login', method: 'POST', body: { email, password }, localAddress: '127.0.0.2' });

async function boot(): Promise<void> {
  web = await startWeb({ dataDir, runDir, env: { PRINTBOX_CLOUD_URL: cloud.url, PRINTBOX_CLOUD_CA: path.join(dir, 'cloud-ca.pem') } });
}
async function startPrinterStub(): Promise<void> {
  printer = await listenIpc<PrinterApi>({
    path: path.join(runDir, 'printer.sock'), log: createLogger({ scope: 'stub', write: () => undefined }),
    handlers: { 'jobs.active': async () => ({ active: printing.length > 0, printers: printing }) } as unknown as Handlers<PrinterApi>,
  });
}

before(async () => {
  cloud = await startCloud({ tls: true });
  cloud.addAccount(OWNER.email, OWNER.password);
  cloud.addAccount(OTHER.email, OTHER.password);
  dir = tempDir('cloudweb');
  dataDir = path.join(dir, 'data');
  runDir = path.join(dir, 'run');
  fs.mkdirSync(dataDir);
  fs.mkdirSync(runDir);
  fs.writeFileSync(path.join(dir, 'cloud-ca.pem'), cloud.ca!);
  await startPrinterStub();
  await boot();
});
after(async () => {
  await web?.stop();
  await printer?.close();
  await cloud.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('link via the API, autologin after restart, owner login rules', async () => {
  let r = await local('/api/cloud');
  assert.equal(r.status, 200);
  assert.equal(r.json.state, 'unlinked');
  assert.equal((await request(web!, { path: '/api/cloud', localAddress: '127.0.0.2' })).status, 401, 'remote needs a session');
  assert.equal((await remoteLogin(OWNER.email, OWNER.password)).status, 401, 'nobody can log in by email while unlinked');

  r = await local('/api/cloud/link', 'POST', { email: OWNER.email, password: 'wrong' });
  assert.equal(r.status, 400);
  assert.equal(r.json.error?.code, 'cloud_rejected');
  r = await local('/api/cloud/link', 'POST', { email: OWNER.email, password: OWNER.password, link_token: 'lt_xxxxxxxxxxxx' });
  assert.equal(r.status, 400);
  r = await local('/api/cloud/link', 'POST', { email: OWNER.email, password: OWNER.password });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual([r.json.state, (r.json.owner as { email: string }).email], ['linked', OWNER.email]);
  assert.ok(!r.text.includes('dt_'), 'the device token never leaves the device');
  // Nothing in the data dir (link state, SQLite + WAL with the audit log, sessions) holds the password in clear.
  const files = (d: string): string[] => fs.readdirSync(d, { withFileTypes: true }).flatMap((f) => (f.isDirectory() ? files(path.join(d, f.name)) : [path.join(d, f.name)]));
  for (const f of files(dataDir)) assert.ok(!fs.readFileSync(f).includes(OWNER.password), `password found in ${f}`);

  await web!.stop();
  await boot();
  // Autologin: the restarted web resumes from the stored token (asynchronously after listening).
  for (let i = 0; i < 50; i++) {
    r = await local('/api/cloud');
    if (r.json.connected !== undefined) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.deepEqual([r.json.state, r.json.connected], ['linked', true]);
  assert.ok(web!.lines.some((l) => /resumed from the stored device token/.test(l)));

  r = await remoteLogin(OWNER.email, OWNER.password);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual([r.json.user, r.json.method], [OWNER.email, 'cloud']);
  assert.equal((await remoteLogin(OTHER.email, OTHER.password)).status, 401, 'another cloud account is refused');
  assert.equal((await remoteLogin(OWNER.email, 'not it')).status, 401);
});

test('owner login while the cloud is down uses the cached verifier', async () => {
  await cloud.stop();
  try {
    const ok = await remoteLogin(OWNER.email, OWNER.password);
    assert.equal(ok.status, 200, ok.text);
    assert.equal((await remoteLogin(OWNER.email, 'still wrong')).status, 401);
    const st = await local('/api/cloud');
    assert.deepEqual([st.json.state, st.json.connected], ['linked', false]);
  } finally { await cloud.start(); }
});

test('unlink refused while printing and while the printer service is down; then unlink and offline', async () => {
  printing = ['virtual-1'];
  let r = await local('/api/cloud/link', 'DELETE');
  assert.equal(r.status, 409);
  assert.match(r.json.error?.message ?? '', /while printing \(virtual-1\)/);
  r = await local('/api/cloud/link', 'POST', { email: OTHER.email, password: OTHER.password });
  assert.equal(r.status, 409, 'switching account refused too');
  printing = [];

  await printer!.close();
  r = await local('/api/cloud/link', 'DELETE');
  assert.equal(r.status, 503);
  assert.match(r.json.error?.message ?? '', /printer service is not answering/);
  assert.equal((await local('/api/cloud')).json.state, 'linked');
  await startPrinterStub();

  r = await local('/api/cloud/link', 'DELETE');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual([r.json.state, r.json.cloud_notified], ['unlinked', true]);
  assert.equal(cloud.store.devicesOf(OWNER.email).length, 0);
  assert.equal((await remoteLogin(OWNER.email, OWNER.password)).status, 401, 'no owner after unlink');

  r = await local('/api/cloud/offline', 'POST');
  assert.equal(r.status, 200);
  assert.equal(r.json.state, 'offline');
});

test('first-boot result and link-token linking appear at GET /api/cloud', async () => {
  new LinkStore(dataDir).saveFirstboot({ result: 'error', error: 'email "x" is not a valid email address' });
  const acc = cloud.store.authenticate(OWNER.email, OWNER.password);
  let r = await local('/api/cloud/link', 'POST', { link_token: cloud.store.createLinkToken(acc.id) });
  assert.equal(r.status, 200, r.text);
  r = await local('/api/cloud');
  assert.equal(r.json.state, 'linked');
  const fb = r.json.firstboot as { result: string; error: string; at: string };
  assert.equal(fb.result, 'error');
  assert.match(fb.error, /not a valid email/);
  assert.ok(!Number.isNaN(Date.parse(fb.at)));
});
