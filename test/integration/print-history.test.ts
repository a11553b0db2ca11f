/**
 * The print history end to end: real PAM accounts (auth helper), the web over HTTPS, the printer
 * service with a virtual Marlin on a pty. A completed print (a signed-in operator), a cancelled one (an
 * OctoPrint client with an API key) and a failed one (emergency stop from the machine itself) appear
 * in GET /api/jobs with who started them, the printer, times, result and the filament counted from the
 * lines sent; OctoPrint's file listing carries their counts; the history survives a restart of the
 * printer service; it is pruned by count, id and date; the routes refuse callers without the
 * permission.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import type { HistoryEntry } from '../../services/shared/ipc.ts';
import { createGroup, createUser, type TestUser } from '../helpers/pam.ts';
import { startPrinterStack, type PrinterStack } from '../helpers/printer-stack.ts';
import { multipart, request, signIn, startAuth, startWeb, type AuthHelper, type Reply } from '../helpers/web.ts';

const ID = 'vp-1';
const GROUPS = { operators: `pbho${process.pid % 100_000}`, plain: `pbhp${process.pid % 100_000}` };

/** A relative-E file (M83) as slicers write it: short extrusions, a retract and its prime every 40 moves. */
function gcode(moves: number, estimateMm?: number): string {
  const out = [...(estimateMm ? [`; filament used [mm] = ${estimateMm}`] : []), 'M83', 'G28', 'G92 E0'];
  for (let i = 0; i < moves; i++) {
    out.push(`G1 X${(i % 200) + 0.5} Y${Math.floor(i / 200) % 200} E0.0421 ; extrude`);
    if (i % 40 === 39) out.push('G1 E-0.8 F2400', 'G1 E0.8 F2400');
  }
  return out.join('\n') + '\n';
}

/** The filament in the first `lines` commands of a file: the furthest the E sum reached (a trailing retract gives nothing back). */
function expectedFilament(text: string, lines = Infinity): number {
  const cmds = text.split('\n').map((l) => l.replace(/;.*/, '').trim()).filter(Boolean).slice(0, lines);
  let sum = 0; let max = 0;
  for (const c of cmds) {
    const e = /^G[0-3]\b.*\bE(-?[\d.]+)/.exec(c);
    if (e) { sum += Number(e[1]); max = Math.max(max, sum); }
  }
  return max;
}

const SHORT = gcode(300, 12.6);
const LONG = gcode(40_000);

let stack: PrinterStack;
let auth: AuthHelper;
const undo: Array<() => void> = [];
const users: Record<'operator' | 'viewer', TestUser> = {} as Record<'operator' | 'viewer', TestUser>;
let cookies: Record<'operator' | 'viewer', string>;

before(async () => {
  undo.push(createGroup(GROUPS.operators), createGroup(GROUPS.plain));
  for (const [role, groups] of [['operator', [GROUPS.operators, GROUPS.plain]], ['viewer', [GROUPS.plain]]] as const) {
    const u = createUser({ groups: [...groups] });
    undo.push(u.remove);
    users[role] = u;
  }
  stack = await startPrinterStack({
    tag: 'history', printers: { [ID]: { baud: 250_000, latencyMs: 1 } }, baudrates: [250_000],
    env: { PRINTBOX_JOB_HISTORY_MAX: '3' },
  });
  const env = {
    PRINTBOX_PAM_GROUPS: Object.values(GROUPS).join(','), PRINTBOX_ROLE_MAP: `${GROUPS.operators}:operator`,
    PRINTBOX_PAM_SERVICE: fs.existsSync('/etc/pam.d/printbox') ? 'printbox' : 'common-auth',
  };
  auth = await startAuth({ runDir: stack.runDir, dataDir: stack.dataDir, groups: env.PRINTBOX_PAM_GROUPS, env, timeoutMs: 60_000 });
  stack.web = await startWeb({ dataDir: stack.dataDir, runDir: stack.runDir, env, timeoutMs: 60_000 });
  cookies = { operator: await signIn(stack.web, users.operator), viewer: await signIn(stack.web, users.viewer) };
  await stack.untilState(ID, 'idle');
});

after(async () => {
  await stack?.close();
  await auth?.stop();
  for (const u of undo.reverse()) u();
});

/** From 127.0.0.2 (another machine) with a session cookie, a key, or nothing. */
const remote = (method: string, path: string, o: { cookie?: string; bearer?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Reply> =>
  request(stack.web!, { method, path, ...o, timeoutMs: 30_000 });

const history = async (): Promise<HistoryEntry[]> => {
  const r = await remote('GET', '/api/jobs', { cookie: cookies.viewer });
  assert.equal(r.status, 200, r.text);
  return r.json as unknown as HistoryEntry[];
};

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-6, `${what}: ${a} ≠ ${b}`);

function checkTimes(e: HistoryEntry): void {
  const start = Date.parse(e.started_at); const end = Date.parse(e.ended_at);
  assert.ok(start <= end && end <= Date.now(), `${e.file}: ${e.started_at} → ${e.ended_at}`);
  assert.equal(e.duration_s, Math.max(0, Math.round((end - start) / 1000)));
}

let keyOwner = '';
const entries: Record<'completed' | 'cancelled' | 'failed', HistoryEntry> = {} as Record<'completed' | 'cancelled' | 'failed', HistoryEntry>;

test('a completed print started by a signed-in operator: user, printer, times, filament counted and estimated', { timeout: 90_000 }, async () => {
  for (const [name, text] of [['short.gcode', SHORT], ['long.gcode', LONG]] as const) {
    const up = multipart(name, text);
    const r = await remote('POST', '/api/files', { cookie: cookies.operator, body: up.body, headers: up.headers });
    assert.equal(r.status, 201, r.text);
  }
  const start = await remote('POST', `/api/printers/${ID}/job`, { cookie: cookies.operator, body: { file: 'short.gcode' } });
  assert.equal(start.status, 202, start.text);
  const done = await stack.jobEnd(ID);
  assert.equal(done.state, 'done');
  const [e] = await history();
  assert.ok(e);
  assert.equal(e.file, 'short.gcode');
  assert.equal(e.result, 'completed');
  assert.equal(e.user, users.operator.name);
  assert.equal(e.printer.id, ID);
  assert.ok(e.printer.name && e.printer.name !== '', 'the printer name from M115');
  assert.equal(e.file_size, Buffer.byteLength(SHORT));
  close(e.filament.used_mm, Math.round(expectedFilament(SHORT) * 1000) / 1000, 'filament = the sum of the file\'s E moves');
  assert.equal(e.filament.estimated_mm, 12.6, 'the slicer\'s figure from the file');
  checkTimes(e);
  entries.completed = e;
});

test('a cancelled print started by an OctoPrint client: the key\'s owner and id, filament of the lines sent', { timeout: 90_000 }, async () => {
  const created = await stack.call('POST', '/api/apikeys', { name: 'slicer', role: 'api' });
  assert.equal(created.status, 201, created.text);
  const { key, prefix } = created.json as { key: string; prefix: string };
  keyOwner = `local/key:${prefix}`;
  const octo = (method: string, path: string, body?: unknown) => remote(method, `/octoprint/${ID}/${path}`, { headers: { 'X-Api-Key': key }, ...(body ? { body } : {}) });
  const sel = await octo('POST', 'api/files/local/long.gcode', { command: 'select', print: true });
  assert.equal(sel.status, 204, sel.text);
  await stack.until(async () => (await stack.client.call('jobs.get', { printerId: ID })).lines_sent > 500, 20_000, 'printing');
  const job = await octo('GET', 'api/job');
  assert.equal((job.json.job as { user: string }).user, keyOwner, 'GET /api/job names who started the job');
  assert.equal((await octo('POST', 'api/job', { command: 'cancel' })).status, 204);
  const [e] = await history();
  assert.ok(e);
  assert.equal(e.result, 'cancelled');
  assert.equal(e.user, keyOwner);
  assert.ok(e.lines_sent > 500 && e.lines_sent < e.lines_total, `${e.lines_sent} of ${e.lines_total}`);
  close(e.filament.used_mm, Math.round(expectedFilament(LONG, e.lines_sent) * 1000) / 1000, 'filament of the lines sent');
  // No slicer comment here: the estimate is the one PrintBox computed from the moves at upload (file metadata).
  const files = (await remote('GET', '/api/files', { cookie: cookies.viewer })).json as unknown as Array<{ name: string; metadata: { filament_used_mm: number | null } }>;
  assert.equal(e.filament.estimated_mm, files.find((f) => f.name === 'long.gcode')?.metadata.filament_used_mm);
  checkTimes(e);
  entries.cancelled = e;
});

test('a failed print started from the machine itself: "local", failed with its reason', { timeout: 90_000 }, async () => {
  await stack.untilState(ID, 'idle');
  assert.equal((await stack.call('POST', `/api/printers/${ID}/job`, { file: 'long.gcode' })).status, 202);
  await stack.until(async () => (await stack.client.call('jobs.get', { printerId: ID })).lines_sent > 300, 20_000, 'printing');
  assert.equal((await stack.call('POST', `/api/printers/${ID}/emergency-stop`, {})).status, 200);
  const e = await stack.until(async () => (await history()).find((j) => j.result === 'failed'), 10_000, 'failed job in the history');
  assert.equal(e.reason, 'emergency-stop');
  assert.equal(e.user, 'local');
  assert.equal(e.state, 'failed');
  close(e.filament.used_mm, Math.round(expectedFilament(LONG, e.lines_sent) * 1000) / 1000, 'filament of the lines sent');
  checkTimes(e);
  entries.failed = e;
  assert.deepEqual((await history()).map((j) => j.id), [entries.failed.id, entries.cancelled.id, entries.completed.id], 'newest first');
});

test('OctoPrint file listing: prints and statistics per file from the history', { timeout: 30_000 }, async () => {
  const list = await stack.call('GET', `/octoprint/${ID}/api/files`);
  assert.equal(list.status, 200, list.text);
  const files = (list.json as unknown as { files: Array<Record<string, unknown>> }).files;
  const short = files.find((f) => f.name === 'short.gcode')!;
  const long = files.find((f) => f.name === 'long.gcode')!;
  assert.deepEqual(short.prints, { success: 1, failure: 0, last: { date: Date.parse(entries.completed.ended_at) / 1000, success: true, printTime: entries.completed.duration_s } });
  assert.deepEqual(short.statistics, { averagePrintTime: { _default: entries.completed.duration_s }, lastPrintTime: { _default: entries.completed.duration_s } });
  assert.deepEqual(long.prints, { success: 0, failure: 2, last: { date: Date.parse(entries.failed.ended_at) / 1000, success: false, printTime: entries.failed.duration_s } }, 'a cancel counts as a failure, as in OctoPrint');
  const one = await stack.call('GET', `/octoprint/${ID}/api/files/local/short.gcode`);
  assert.deepEqual(one.json.prints, short.prints);
});

test('the history survives a restart of the printer service and is pruned by count, id and date', { timeout: 120_000 }, async () => {
  await stack.stopPrinter('SIGTERM');
  await stack.startPrinter();
  const after = await stack.until(async () => history(), 20_000, 'history after restart');
  assert.deepEqual(after, [entries.failed, entries.cancelled, entries.completed], 'unchanged across the restart');

  // count: PRINTBOX_JOB_HISTORY_MAX=3, so a fourth finished job pushes the oldest out
  const state = await stack.until(async () => { const p = await stack.client.call('printers.get', { id: ID }); return p.state !== 'detecting' && p.state !== 'connecting' && p; }, 30_000, 'printer probed');
  if (state.state === 'error') await stack.client.call('printers.reconnect', { id: ID }, 60_000);
  await stack.untilState(ID, 'idle', 30_000);
  assert.equal((await remote('POST', `/api/printers/${ID}/job`, { cookie: cookies.operator, body: { file: 'short.gcode' } })).status, 202);
  assert.equal((await stack.jobEnd(ID)).state, 'done');
  const fourth = await stack.until(async () => { const h = await history(); return h.length === 3 && h[0]!.id > entries.failed.id && h; }, 10_000, 'fourth job');
  assert.deepEqual(fourth.map((j) => j.id).slice(1), [entries.failed.id, entries.cancelled.id], 'the completed (oldest) one was pruned');

  // by id
  const del = await remote('DELETE', `/api/jobs/${entries.cancelled.id}`, { cookie: cookies.operator });
  assert.equal(del.status, 204, del.text);
  assert.equal((await remote('DELETE', `/api/jobs/${entries.cancelled.id}`, { cookie: cookies.operator })).status, 404);
  assert.equal((await remote('DELETE', '/api/jobs/abc', { cookie: cookies.operator })).json.error?.code, 'bad_job_id');
  // by date: what ended before the failed job's end + 1 ms, i.e. the failed job only
  assert.equal((await remote('DELETE', '/api/jobs?before=yesterday', { cookie: cookies.operator })).status, 400);
  const cut = new Date(Date.parse(entries.failed.ended_at) + 1).toISOString();
  const byDate = await remote('DELETE', `/api/jobs?before=${encodeURIComponent(cut)}`, { cookie: cookies.operator });
  assert.equal(byDate.status, 200, byDate.text);
  assert.deepEqual(byDate.json, { removed: 1 });
  assert.deepEqual((await history()).map((j) => j.id), [fourth[0]!.id]);
  // everything
  assert.deepEqual((await remote('DELETE', '/api/jobs', { cookie: cookies.operator })).json, { removed: 1 });
  assert.deepEqual(await history(), []);
});

test('permissions: anonymous 401, a viewer may read but not prune, a key without jobs.control 403', { timeout: 30_000 }, async () => {
  for (const [method, path] of [['GET', '/api/jobs'], ['DELETE', '/api/jobs'], ['DELETE', '/api/jobs/1']]) {
    assert.equal((await remote(method!, path!)).status, 401, `${method} ${path} anonymous`);
  }
  assert.equal((await remote('GET', '/api/jobs', { cookie: cookies.viewer })).status, 200);
  for (const path of ['/api/jobs', '/api/jobs/1']) {
    const r = await remote('DELETE', path, { cookie: cookies.viewer });
    assert.equal(r.status, 403, `viewer DELETE ${path}: ${r.text}`);
    assert.equal(r.json.error?.code, 'forbidden');
  }
  const readOnly = await stack.call('POST', '/api/apikeys', { name: 'reader', permissions: ['jobs.read'] });
  const bearer = (readOnly.json as { key: string }).key;
  assert.equal((await remote('GET', '/api/jobs', { bearer })).status, 200);
  assert.equal((await remote('DELETE', '/api/jobs', { bearer })).status, 403);
});
