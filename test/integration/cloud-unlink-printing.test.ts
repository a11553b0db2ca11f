/**
 * The unlink rule end to end with the real printer service (services/printer/main.ts on a virtual
 * printer pty) and the real web: DELETE /api/cloud/link is refused with 409 while a job prints
 * (asked via jobs.active on printer.sock) and succeeds once the job is cancelled — the print is
 * never interrupted by the cloud.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startCloud, type TestCloud } from '../helpers/cloud.ts';
import { request, spawnService, startWeb, tempDir, type Service, type WebServer } from '../helpers/web.ts';
import { gcodeLines, VirtualPrinter } from '../helpers/virtual-printer.ts';
import { FileStore } from '../../services/shared/files.ts';
import type { PrinterApi } from '../../services/shared/ipc.ts';
import { IpcClient } from '../../services/shared/ipc-transport.ts';

const OWNER = { email: 'printing-owner@example.test', password: 'printing owner pw' };
let cloud: TestCloud;
let dir: string;
let vp: VirtualPrinter;
let printerSvc: Service;
let web: WebServer;
let client: IpcClient<PrinterApi>;

const local = (p: string, method = 'GET', body?: unknown) => request(web, { path: p, method, body, localAddress: '127.0.0.1' });

async function until<T>(fn: () => Promise<T | undefined | false>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try { const v = await fn(); if (v) return v; } catch { /* not up yet */ }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  cloud = await startCloud();
  cloud.addAccount(OWNER.email, OWNER.password);
  dir = tempDir('cloudprint');
  const dataDir = path.join(dir, 'data');
  const runDir = path.join(dir, 'run');
  fs.mkdirSync(dataDir);
  fs.mkdirSync(runDir);
  // Slow enough that the job is still running when we try to unlink.
  vp = await VirtualPrinter.create({ link: path.join(dir, 'vp-1'), baud: 115_200, latencyMs: 20 });
  printerSvc = spawnService('services/printer/main.ts', {
    PRINTBOX_DATA_DIR: dataDir, PRINTBOX_RUN_DIR: runDir, PRINTBOX_SERIAL_PORTS: path.join(dir, 'vp-*'),
    PRINTBOX_BAUDRATES: '115200', PRINTBOX_LOG_LEVEL: 'warn',
  });
  web = await startWeb({ dataDir, runDir, env: { PRINTBOX_CLOUD_URL: cloud.url } });
  client = new IpcClient<PrinterApi>({ path: path.join(runDir, 'printer.sock'), service: 'printer', timeoutMs: 5000 });
  await until(async () => (await client.call('printers.list', {})).find((p) => p.state === 'idle'), 30_000, 'printer idle');
  await new FileStore(path.join(dataDir, 'files')).save('long.gcode', gcodeLines(20_000).join('\n'));
});
after(async () => {
  await web?.stop();
  await printerSvc?.stop();
  await vp?.close();
  await cloud.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('unlink refused while the real printer service prints, allowed after cancel; the print is untouched', { timeout: 90_000 }, async () => {
  let r = await local('/api/cloud/link', 'POST', OWNER);
  assert.equal(r.status, 200, r.text);

  await client.call('jobs.start', { printerId: 'vp-1', file: 'long.gcode' });
  await until(async () => (await client.call('jobs.get', { printerId: 'vp-1' })).lines_sent > 50, 20_000, 'printing');
  r = await local('/api/cloud/link', 'DELETE');
  assert.equal(r.status, 409, r.text);
  assert.equal(r.json.error?.code, 'printing');
  assert.match(r.json.error?.message ?? '', /while printing \(vp-1\)/);
  r = await local('/api/cloud/offline', 'POST');
  assert.equal(r.status, 409, 'offline mode from linked is an unlink too');
  const job = await client.call('jobs.get', { printerId: 'vp-1' });
  assert.equal(job.state, 'printing', 'the refused unlink did not touch the print');
  assert.equal((await local('/api/cloud')).json.state, 'linked');

  await client.call('jobs.cancel', { printerId: 'vp-1' });
  await until(async () => !(await client.call('jobs.active', {})).active, 20_000, 'job ended');
  r = await local('/api/cloud/link', 'DELETE');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.state, 'unlinked');
  assert.equal(cloud.store.devicesOf(OWNER.email).length, 0);
});
