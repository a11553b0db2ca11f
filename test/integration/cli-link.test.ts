/**
 * The `printbox` console command as a real process: scripted linking (password on stdin, link
 * token on stdin), interactive linking on a real pty (util-linux `script`) with the password not
 * echoed, status/unlink/offline, and clear errors with exit codes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCloud, type TestCloud } from '../helpers/cloud.ts';
import { createLogger } from '../../services/shared/log.ts';
import { listenIpc, type IpcServer } from '../../services/shared/ipc-transport.ts';
import type { Handlers, PrinterApi, PrinterInfo } from '../../services/shared/ipc.ts';

const REPO = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(REPO, 'services/cli/main.ts');
const OWNER = { email: 'cli-owner@example.test', password: 'cli pass word 9' };
let cloud: TestCloud;
let tmp: string;
let printer: IpcServer | undefined;
let printing: string[] = [];

interface Run { code: number | null; stdout: string; stderr: string }
function env(dataDir: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, PRINTBOX_DATA_DIR: dataDir, PRINTBOX_RUN_DIR: tmp, PRINTBOX_CLOUD_URL: cloud.url };
}
function cli(dataDir: string, args: string[], stdin = ''): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: REPO, env: env(dataDir), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = ''; let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}
const newData = () => fs.mkdtempSync(path.join(tmp, 'data-'));

before(async () => {
  cloud = await startCloud();
  cloud.addAccount(OWNER.email, OWNER.password);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-cli-'));
  const vp: PrinterInfo = { id: 'virtual-1', port: '/dev/pts/9', name: 'Virtual Marlin', state: 'idle', temperatures: {} };
  printer = await listenIpc<PrinterApi>({
    path: path.join(tmp, 'printer.sock'), log: createLogger({ scope: 'stub', write: () => undefined }),
    handlers: {
      'jobs.active': async () => ({ active: printing.length > 0, printers: printing }),
      'printers.list': async () => [{ ...vp, state: printing.length ? 'printing' : 'idle' }],
    } as unknown as Handlers<PrinterApi>,
  });
});
after(async () => {
  await printer?.close();
  await cloud.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('scripted: --email with the password on stdin, then status, unlink (refused while printing), offline', async () => {
  const data = newData();
  let r = await cli(data, ['link', '--email', OWNER.email], 'wrong password\n');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^printbox: Wrong email or password$/m);
  r = await cli(data, ['link', '--email', OWNER.email], `${OWNER.password}\n`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `Linked to the cloud as ${OWNER.email}.\n`);
  assert.ok(!(r.stdout + r.stderr).includes(OWNER.password));
  assert.equal(fs.statSync(path.join(data, 'cloud/device-token')).mode & 0o777, 0o600);

  r = await cli(data, ['status']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`Cloud: +linked to ${OWNER.email}\\n`));
  assert.match(r.stdout, /Printers: +virtual-1: idle/);
  r = await cli(data, ['status', '--json']);
  const st = JSON.parse(r.stdout) as { cloud: { state: string; connected: boolean } };
  assert.deepEqual([st.cloud.state, st.cloud.connected], ['linked', true]);

  printing = ['virtual-1'];
  try {
    r = await cli(data, ['unlink']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Cannot unlink from the cloud while printing \(virtual-1\)/);
  } finally { printing = []; }
  r = await cli(data, ['unlink']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Unlinked from the cloud\.$/m);
  r = await cli(data, ['offline']);
  assert.equal(r.code, 0);
  assert.match((await cli(data, ['status'])).stdout, /Cloud: +offline mode/);
});

test('scripted: --link-token - reads the token from stdin', async () => {
  const data = newData();
  const acc = cloud.store.authenticate(OWNER.email, OWNER.password);
  const r = await cli(data, ['link', '--link-token', '-'], `${cloud.store.createLinkToken(acc.id)}\n`);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Linked to the cloud as cli-owner@example\.test/);
});

test('usage errors exit 2; the cloud being down is a clear message', async () => {
  const data = newData();
  assert.equal((await cli(data, [])).code, 2);
  const bad = await cli(data, ['link', '--bogus']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Unknown option '--bogus'/);
  assert.equal((await cli(data, ['link'], '')).code, 2, 'no TTY and no --email');
  await cloud.stop();
  try {
    const r = await cli(data, ['link', '--email', OWNER.email], `${OWNER.password}\n`);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /printbox: The cloud at 127\.0\.0\.1:\d+ is not reachable/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  } finally { await cloud.start(); }
});

test('interactive on a real pty: prompts, echoes the email, never the password', async () => {
  const data = newData();
  // `script` gives the CLI a real terminal; what it prints back is exactly what a user would see.
  const cmd = `${process.execPath} --import tsx ${CLI} link`;
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: REPO, env: { ...env(data), TERM: 'dumb' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  const waitFor = (re: RegExp) => new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timeout waiting for ${re}; screen: ${JSON.stringify(screen)}`)), 20_000);
    const check = () => { if (re.test(screen)) { clearTimeout(t); child.stdout.off('data', check); resolve(); } };
    child.stdout.on('data', check);
    check();
  });
  child.stdout.on('data', (c: Buffer) => { screen += c.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await waitFor(/Cloud account email: $/);
    child.stdin.write(`${OWNER.email}\r`);
    await waitFor(/Password: $/);
    child.stdin.write(`${OWNER.password}\r`);
    await waitFor(/Linked to the cloud/);
    assert.equal(await exited, 0);
  } finally { child.kill(); }
  assert.ok(screen.includes(`Cloud account email: ${OWNER.email}`), 'email echoed');
  assert.ok(!screen.includes(OWNER.password), `password must not be echoed: ${JSON.stringify(screen)}`);
  assert.match(screen, /Linked to the cloud as cli-owner@example\.test\./);
});
