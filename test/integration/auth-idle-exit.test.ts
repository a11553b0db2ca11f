/**
 * printbox-auth exits 0 after PRINTBOX_AUTH_IDLE_EXIT_S without connections, but only when socket-activated
 * (systemd keeps auth.sock and starts it again on the next connection); started by hand it keeps running.
 * Real check: the real helper under systemd-socket-activate, a real IPC client.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { AuthApi } from '../../services/shared/ipc.ts';
import { IpcClient } from '../../services/shared/ipc-transport.ts';
import { REPO, startAuth, tempDir } from '../helpers/web.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('socket-activated: serves, then exits 0 after the idle period, and not while a connection is open', { timeout: 40_000 }, async (t) => {
  const dir = tempDir('auth-idle');
  const sock = path.join(dir, 'auth.sock');
  const proc = spawn('systemd-socket-activate', ['-l', sock, '-E', 'PRINTBOX_AUTH_IDLE_EXIT_S=2', '-E', `PRINTBOX_RUN_DIR=${dir}`,
    '-E', `PRINTBOX_DATA_DIR=${dir}`, '-E', `PATH=${process.env.PATH}`, process.execPath, '--import', 'tsx', path.join(REPO, 'services/auth/main.ts')],
  { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (b: Buffer) => { out += b; });
  proc.stderr.on('data', (b: Buffer) => { out += b; });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  t.after(() => { proc.kill('SIGKILL'); fs.rmSync(dir, { recursive: true, force: true }); });
  while (!fs.existsSync(sock)) await sleep(50);

  const client = new IpcClient<AuthApi>({ path: sock, service: 'auth', timeoutMs: 20_000 });
  assert.deepEqual(await client.call('ping', {}), { ok: true }); // first connection starts the helper
  // a long-lived connection (like an event subscription) holds it up past the idle period
  const { createConnection } = await import('node:net');
  const held = createConnection(sock);
  await new Promise((r) => held.once('connect', r));
  await sleep(3000);
  assert.equal(proc.exitCode, null, `exited while a connection was open:\n${out}`);
  held.destroy();
  const code = await Promise.race([exited, sleep(10_000).then(() => 'still running')]);
  assert.equal(code, 0, out);
  assert.match(out, /"reason":"idle"/);
});

test('started by hand (no LISTEN_FDS): no idle exit', { timeout: 30_000 }, async (t) => {
  const runDir = tempDir('auth-noidle');
  const auth = await startAuth({ runDir, env: { PRINTBOX_AUTH_IDLE_EXIT_S: '1' } });
  t.after(async () => { await auth.stop(); fs.rmSync(runDir, { recursive: true, force: true }); fs.rmSync(`${runDir}-auth`, { recursive: true, force: true }); });
  await sleep(2500);
  assert.equal(auth.child.exitCode, null, auth.lines.join('\n'));
  const client = new IpcClient<AuthApi>({ path: path.join(runDir, 'auth.sock'), service: 'auth' });
  assert.deepEqual(await client.call('ping', {}), { ok: true });
});
