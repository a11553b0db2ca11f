/**
 * printbox-update on the device is socket-activated and exits when it has nothing to do, so a device at
 * rest holds no fourth Node process. What must not be lost by that: a check that is due runs at start,
 * its answer is still offered by the next start (which does not check again), and the service never exits
 * while an update runs or waits for a print. Real check: the real service under systemd-socket-activate
 * (one start per connection-triggered run, as printbox-update.socket gives), a real update server over
 * HTTP, the real IPC client.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import express from 'express';
import type { UpdateApi } from '../../services/shared/ipc.ts';
import { IpcClient } from '../../services/shared/ipc-transport.ts';
import { REPO, tempDir } from '../helpers/web.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dir = tempDir('update-idle');
const sock = path.join(dir, 'update.sock');
const requests: string[] = [];
let server: http.Server;
let base = '';

before(async () => {
  const www = path.join(dir, 'www');
  fs.mkdirSync(path.join(www, 'stable'), { recursive: true });
  const data = Buffer.alloc(64 * 1024, 3);
  fs.writeFileSync(path.join(www, 'stable', 'next.raucb'), data);
  fs.writeFileSync(path.join(www, 'stable', 'index.json'), JSON.stringify({
    format: 1, channel: 'stable',
    releases: [{ version: '99.0.0', compatible: 'printbox-rpi-arm64', url: 'next.raucb', size: data.length, sha256: createHash('sha256').update(data).digest('hex') }],
  }));
  const app = express();
  app.use((req, _res, next) => { requests.push(req.path); next(); });
  app.use(express.static(www));
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => { server.close(); fs.rmSync(dir, { recursive: true, force: true }); });

/** One activation: systemd-socket-activate holds update.sock and starts the service at the first connection. */
function activate() {
  fs.rmSync(sock, { force: true });
  const env = { PRINTBOX_UPDATE_IDLE_EXIT_S: '2', PRINTBOX_RUN_DIR: dir, PRINTBOX_DATA_DIR: dir, PRINTBOX_UPDATE_SERVER: base, PATH: process.env.PATH };
  const proc = spawn('systemd-socket-activate', ['-l', sock, ...Object.entries(env).flatMap(([k, v]) => ['-E', `${k}=${v}`]),
    process.execPath, '--import', 'tsx', path.join(REPO, 'services/updater/main.ts')], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (b: Buffer) => { out += b; });
  proc.stderr.on('data', (b: Buffer) => { out += b; });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const client = new IpcClient<UpdateApi>({ path: sock, service: 'update', timeoutMs: 30_000 });
  return {
    client,
    output: () => out,
    ready: async () => { while (!fs.existsSync(sock)) await sleep(50); },
    /** The exit code, or 'running' if it has not exited within `ms`. */
    exit: (ms: number) => Promise.race([exited, sleep(ms).then(() => 'running' as const)]),
    kill: () => proc.kill('SIGKILL'),
  };
}

test('a due check runs at start; the service exits 0 when idle; the next start still offers the release without checking again', { timeout: 90_000 }, async (t) => {
  const first = activate();
  t.after(first.kill);
  await first.ready();
  await first.client.call('update.status', {}); // the first connection starts it
  let s = await first.client.call('update.status', {});
  for (let i = 0; i < 100 && !s.lastCheck; i++) { await sleep(100); s = await first.client.call('update.status', {}); }
  assert.equal(s.available?.version, '99.0.0', first.output());
  assert.equal(requests.filter((r) => r === '/stable/index.json').length, 1);
  assert.equal(await first.exit(10_000), 0, first.output());
  assert.match(first.output(), /"reason":"idle"/);

  const second = activate();
  t.after(second.kill);
  await second.ready();
  const again = await second.client.call('update.status', {});
  assert.equal(again.available?.version, '99.0.0', 'the release found before the exit is offered');
  assert.equal(again.lastCheck, s.lastCheck);
  assert.equal(await second.exit(10_000), 0, second.output());
  assert.equal(requests.filter((r) => r === '/stable/index.json').length, 1, 'no check before PRINTBOX_UPDATE_CHECK_H has passed');
});

test('no idle exit while an update waits for the printers; after a cancel it exits', { timeout: 90_000 }, async (t) => {
  const run = activate();
  t.after(run.kill);
  await run.ready();
  // no printer service answers in this run directory, which counts as printing: the update waits
  const applied = await run.client.call('update.apply', { version: '99.0.0' });
  assert.equal(applied.phase, 'downloading');
  let s = applied;
  for (let i = 0; i < 100 && s.phase !== 'waiting'; i++) { await sleep(100); s = await run.client.call('update.status', {}); }
  assert.equal(s.phase, 'waiting', run.output());
  assert.deepEqual(s.waitingFor, ['the printer service (not answering)']);
  assert.equal(await run.exit(5000), 'running', 'exited while an update waited');
  await run.client.call('update.cancel', {});
  assert.equal(await run.exit(10_000), 0, run.output());
  assert.match(run.output(), /"reason":"idle"/);
});
