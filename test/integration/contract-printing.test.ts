/**
 * CONTRACT.md "HTTP API" printer, file, job and cloud lines, "Cloud protocol" (as the reference cloud
 * sees it) and the `printbox link` / `printbox status` commands, against a real stack: PAM helper,
 * printer service with one virtual printer (PRINTBOX_VIRTUAL_PRINTERS=1), web over HTTPS, the
 * reference cloud over HTTPS. Requests from 127.0.0.2 with a signed-in admin or an API key; the
 * local bypass is not used. Tests run in order: the emergency stop ends the printer's usefulness.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startCloud, type TestCloud } from '../helpers/cloud.ts';
import { assertError, assertShape } from '../helpers/contract.ts';
import { gcodeLines } from '../helpers/virtual-printer.ts';
import { multipart, REPO, tempDir } from '../helpers/web.ts';
import { startStack, type RequestOptions, type Stack } from './security-stack.ts';

const OWNER = { email: 'contract-owner@example.test', password: 'contract owner pw 1' };
const JOB_STATES = ['printing', 'paused', 'done', 'cancelled', 'failed'];
const PRINTER = { id: 'string', port: 'string', name: 'string', state: 'string', temperatures: 'object' } as const;
const JOB = { state: 'string', file: 'string', progress: 'number', lines_sent: 'number', eta_s: ['number', 'null'] } as const;

let cloud: TestCloud;
let dir: string;
let stack: Stack;
let cookie: string;
let apiKey: string;
let printerId: string;
/** Paths the device called on the reference cloud (CONTRACT "Cloud protocol"). */
const cloudCalls: string[] = [];

/** As the signed-in admin (PAM), from another machine. */
const as = (o: RequestOptions) => stack.req({ cookie, ...o });

function assertJob(j: unknown, line: string): asserts j is { state: string; file: string; progress: number; lines_sent: number } {
  assertShape(j, JOB, line);
  const job = j as { state: string; progress: number; lines_sent: number };
  assert.ok(JOB_STATES.includes(job.state), `${line}: state ${job.state}`);
  assert.ok(job.progress >= 0 && job.progress <= 1, `${line}: progress ${job.progress}`);
  assert.ok(Number.isInteger(job.lines_sent) && job.lines_sent >= 0, `${line}: lines_sent ${job.lines_sent}`);
}

before(async () => {
  cloud = await startCloud({ tls: true });
  cloud.addAccount(OWNER.email, OWNER.password);
  cloud.store.on('request', (p) => cloudCalls.push(p));
  dir = tempDir('contract-print');
  fs.writeFileSync(path.join(dir, 'cloud-ca.pem'), cloud.ca!);
  stack = await startStack({
    userSpecs: [{ key: 'admin', role: 'admins' }], printer: true,
    env: { PRINTBOX_CLOUD_URL: cloud.url, PRINTBOX_CLOUD_CA: path.join(dir, 'cloud-ca.pem') },
  });
  cookie = await stack.login(stack.users.admin!);
  apiKey = (await stack.key({ role: 'api', name: 'contract-printing' })).key;
});

after(async () => {
  await stack?.stop();
  await cloud?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('GET /api/printers → [{"id", "port", "name", "state", "temperatures", "job"?}]; GET /api/printers/:id', async () => {
  let list: Array<{ id: string; state: string }> = [];
  for (let i = 0; i < 100 && !list.some((p) => p.state === 'idle'); i++) {
    const r = await as({ path: '/api/printers' });
    assert.equal(r.status, 200, r.text);
    assert.ok(Array.isArray(r.json), r.text);
    list = r.json as typeof list;
    if (!list.some((p) => p.state === 'idle')) await sleep(100);
  }
  assert.equal(list.length, 1, JSON.stringify(list));
  for (const p of list) assertShape(p, PRINTER, 'GET /api/printers item', ['job']);
  printerId = list[0]!.id;
  const one = await as({ path: `/api/printers/${encodeURIComponent(printerId)}` });
  assert.equal(one.status, 200, one.text);
  assertShape(one.json, PRINTER, 'GET /api/printers/:id', ['job']);
  assert.equal((one.json as { id: string }).id, printerId);
  // the same with an API key (Authorization: Bearer)
  assert.equal((await stack.req({ path: '/api/printers', bearer: apiKey })).status, 200);
  assertError(await as({ path: '/api/printers/no-such-printer' }), 404, 'GET /api/printers/:id unknown');
});

test('POST /api/files (multipart field "file") → 201 {"name", "size", "lines"}; GET /api/files; DELETE /api/files/:name', async () => {
  const text = ['G28', ...gcodeLines(4999)].join('\n') + '\n';
  const up = multipart('contract.gcode', text);
  const r = await as({ path: '/api/files', raw: up.body, headers: up.headers });
  assert.equal(r.status, 201, r.text);
  const { metadata, ...stored } = r.json as Record<string, unknown>;
  assert.deepEqual(stored, { name: 'contract.gcode', size: Buffer.byteLength(text), lines: 5000 });
  assert.equal(typeof metadata, 'object');
  const extra = multipart('delete-me.gcode', 'G28\n');
  assert.equal((await stack.req({ path: '/api/files', raw: extra.body, headers: extra.headers, bearer: apiKey })).status, 201, 'upload with an API key');
  const list = await as({ path: '/api/files' });
  assert.equal(list.status, 200, list.text);
  assert.ok(Array.isArray(list.json));
  const names = (list.json as Array<{ name: string }>).map((f) => f.name).sort();
  assert.deepEqual(names, ['contract.gcode', 'delete-me.gcode']);
  const del = await as({ method: 'DELETE', path: '/api/files/delete-me.gcode' });
  assert.ok(del.status === 200 || del.status === 204, `DELETE /api/files/:name → ${del.status} ${del.text}`);
  assert.deepEqual((((await as({ path: '/api/files' })).json) as Array<{ name: string }>).map((f) => f.name), ['contract.gcode']);
  assertError(await as({ path: '/api/files', body: { file: 'x' } }), 415, 'POST /api/files with JSON');
});

test('GET /api/cloud states; POST /api/cloud/link {"email","password"} against the reference cloud; the owner signs in (method "cloud")', async () => {
  const st = await as({ path: '/api/cloud' });
  assert.equal(st.status, 200, st.text);
  assert.equal((st.json as { state: string }).state, 'unlinked');
  assertError(await as({ path: '/api/cloud/link', body: { email: OWNER.email, password: 'wrong' } }), 400, 'link with a wrong cloud password', 'cloud_rejected');
  const link = await as({ path: '/api/cloud/link', body: OWNER });
  assert.equal(link.status, 200, link.text);
  assertShape(link.json, { state: 'string', owner: 'object' }, 'POST /api/cloud/link');
  const owner = (link.json as { state: string; owner: { id: string; email: string } });
  assert.equal(owner.state, 'linked');
  assertShape(owner.owner, { id: 'string', email: 'string' }, 'GET /api/cloud owner');
  assert.equal(owner.owner.email, OWNER.email);
  // CONTRACT "Cloud protocol": the device sent {"device": {"serial", "hostname", "version"}}
  const devices = cloud.store.devicesOf(OWNER.email);
  assert.equal(devices.length, 1);
  assertShape(devices[0], { serial: 'string', hostname: 'string', version: 'string' }, 'devices/link device');
  assert.equal(((await as({ path: '/api/cloud' })).json as { state: string }).state, 'linked');

  const login = await stack.req({ path: '/api/auth/login', body: { email: OWNER.email, password: OWNER.password } });
  assert.equal(login.status, 200, login.text);
  assert.deepEqual(login.json, { user: OWNER.email, method: 'cloud' });
  const wrong = await stack.req({ path: '/api/auth/login', body: { email: OWNER.email, password: 'nope' }, from: '127.0.0.8' });
  assertError(wrong, 401, 'cloud owner login with a wrong password');
});

test('POST /api/printers/:id/job {"file"} → 202; GET …/job shape; unlink never interrupts it; pause | resume | cancel', async () => {
  const jobPath = `/api/printers/${encodeURIComponent(printerId)}/job`;
  const start = await as({ path: jobPath, body: { file: 'contract.gcode' } });
  assert.equal(start.status, 202, start.text);
  const job = await as({ path: jobPath });
  assert.equal(job.status, 200, job.text);
  assertJob(job.json, 'GET /api/printers/:id/job');
  assert.deepEqual([job.json.state, job.json.file], ['printing', 'contract.gcode']);
  const withJob = (await as({ path: `/api/printers/${encodeURIComponent(printerId)}` })).json as { job?: unknown };
  assertJob(withJob.job, 'GET /api/printers/:id "job"');

  // CONTRACT: DELETE /api/cloud/link never interrupts a running print
  const unlink = await as({ method: 'DELETE', path: '/api/cloud/link' });
  assertError(unlink, 409, 'unlink while printing', 'printing');
  assert.equal(((await as({ path: jobPath })).json as { state: string }).state, 'printing');
  assert.equal(((await as({ path: '/api/cloud' })).json as { state: string }).state, 'linked');

  for (const [action, state] of [['pause', 'paused'], ['resume', 'printing'], ['cancel', 'cancelled']] as const) {
    const r = await stack.req({ path: `${jobPath}/${action}`, body: {}, bearer: apiKey });
    assert.equal(r.status, 200, `${action}: ${r.text}`);
    assertJob(r.json, `POST /api/printers/:id/job/${action}`);
    assert.equal(r.json.state, state, action);
  }
  const done = await as({ path: jobPath });
  assertJob(done.json, 'GET /api/printers/:id/job after cancel');
  assert.equal(done.json.state, 'cancelled');
});

test('DELETE /api/cloud/link (unlink) when nothing prints; POST /api/cloud/offline', async () => {
  const un = await as({ method: 'DELETE', path: '/api/cloud/link' });
  assert.ok(un.status === 200 || un.status === 204, `unlink → ${un.status} ${un.text}`);
  assert.equal(((await as({ path: '/api/cloud' })).json as { state: string }).state, 'unlinked');
  assert.equal(cloud.store.devicesOf(OWNER.email).length, 0, 'the device called devices/unlink');
  // CONTRACT "Cloud protocol": link, verify-owner (the owner's sign-in above), unlink — and nothing outside /api/v1/devices
  for (const p of ['/api/v1/devices/link', '/api/v1/devices/verify-owner', '/api/v1/devices/unlink']) assert.ok(cloudCalls.includes(p), `device never called ${p}: ${cloudCalls.join(' ')}`);
  assert.ok(cloudCalls.every((p) => p.startsWith('/api/v1/devices/')), cloudCalls.join(' '));
  const off = await as({ path: '/api/cloud/offline', body: {} });
  assert.ok(off.status === 200 || off.status === 204, `offline → ${off.status} ${off.text}`);
  assert.equal(((await as({ path: '/api/cloud' })).json as { state: string }).state, 'offline');
});

test('POST /api/printers/:id/command {"gcode"}; POST /api/printers/:id/emergency-stop', async () => {
  const base = `/api/printers/${encodeURIComponent(printerId)}`;
  const cmd = await as({ path: `${base}/command`, body: { gcode: 'M105' } });
  assert.equal(cmd.status, 202, cmd.text);
  assertError(await as({ path: `${base}/command`, body: {} }), 400, 'command without gcode');
  const stop = await as({ path: `${base}/emergency-stop`, body: {} });
  assert.equal(stop.status, 200, stop.text);
  let state = '';
  for (let i = 0; i < 50 && state !== 'error'; i++) {
    state = ((await as({ path: base })).json as { state: string }).state;
    if (state !== 'error') await sleep(100);
  }
  assert.equal(state, 'error', 'M112 leaves the printer halted');
});

/** The CLI as a real process; async, because the reference cloud answers from this very process. */
function cli(args: string[], env: Record<string, string>, input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'services/cli/main.ts', ...args], { cwd: REPO, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = ''; let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }); });
    child.stdin.end(input);
  });
}

test('`printbox link` (console) against the reference cloud, then `printbox status`', async () => {
  const data = path.join(dir, 'cli-data');
  fs.mkdirSync(data);
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin', PRINTBOX_DATA_DIR: data, PRINTBOX_RUN_DIR: dir,
    PRINTBOX_CLOUD_URL: cloud.url, PRINTBOX_CLOUD_CA: path.join(dir, 'cloud-ca.pem'),
  };
  const link = await cli(['link', '--email', OWNER.email], env, `${OWNER.password}\n`);
  assert.equal(link.code, 0, `${link.stdout}\n${link.stderr}`);
  const st = await cli(['status', '--json'], env);
  assert.equal(st.code, 0, st.stderr);
  const status = JSON.parse(st.stdout) as { cloud: { state: string; owner?: { email: string } } };
  assert.equal(status.cloud.state, 'linked');
  assert.equal(status.cloud.owner?.email, OWNER.email);
  const human = await cli(['status'], env);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /linked/i);
});
