/**
 * printbox-auth.socket hands the listening socket to the service (systemd socket activation), so the
 * socket keeps the unit's owner/group/mode and no connection is lost while the service starts.
 * Real check with systemd-socket-activate: fd 3 passed, LISTEN_PID/LISTEN_FDS set, listenIpc serves it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IpcClient } from '../../services/shared/ipc-transport.ts';
import { listenFds } from '../../services/shared/systemd.ts';

const SERVER = `
import { listenIpc } from ${JSON.stringify(path.resolve(import.meta.dirname, '../../services/shared/ipc-transport.ts'))};
import { listenFds } from ${JSON.stringify(path.resolve(import.meta.dirname, '../../services/shared/systemd.ts'))};
import { createLogger } from ${JSON.stringify(path.resolve(import.meta.dirname, '../../services/shared/log.ts'))};
const fds = listenFds(process.env);
await listenIpc({ path: process.argv[2], fd: fds[0], log: createLogger({ scope: 't' }),
  handlers: { whoami: async () => ({ fds, pid: process.pid }) } });
`;

test('listenFds ignores variables meant for another process', () => {
  assert.deepEqual(listenFds({ LISTEN_PID: '1', LISTEN_FDS: '1' }, 2), []);
  assert.deepEqual(listenFds({ LISTEN_PID: '7', LISTEN_FDS: '2' }, 7), [3, 4]);
  assert.deepEqual(listenFds({}, 7), []);
});

test('an IPC server serves the socket systemd created, keeping its mode', { timeout: 30_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'printbox-sockact-'));
  const sock = path.join(dir, 'auth.sock');
  const script = path.join(dir, 'server.mts');
  fs.writeFileSync(script, SERVER);
  const proc = spawn('systemd-socket-activate', ['-l', sock, process.execPath, '--import', 'tsx', script, sock],
    { cwd: path.resolve(import.meta.dirname, '../..'), stdio: 'ignore' });
  t.after(() => { proc.kill('SIGKILL'); fs.rmSync(dir, { recursive: true, force: true }); });
  while (!fs.existsSync(sock)) await new Promise((r) => setTimeout(r, 50));
  fs.chmodSync(sock, 0o660); // stands in for SocketMode=0660; a service that re-bound the path would lose it
  // The first call triggers the exec (like socket activation on demand); the connection must not be lost.
  const client = new IpcClient<{ whoami: { params: Record<string, never>; result: { fds: number[]; pid: number } } }>({ path: sock, service: 'test', timeoutMs: 20_000 });
  const first = await client.call('whoami', {});
  assert.deepEqual(first.fds, [3]);
  const second = await client.call('whoami', {});
  assert.equal(second.pid, first.pid);
  assert.equal(fs.statSync(sock).mode & 0o777, 0o660);
});
