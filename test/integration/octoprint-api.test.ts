/**
 * Every OctoPrint-compatible endpoint PrintBox serves, checked against OctoPrint's REST API
 * documentation (docs.octoprint.org/en/master/api/, the page named in each test): keys, types and
 * status codes. Then hostile and broken input: clear OctoPrint-style {"error": "…"} answers, nothing
 * written outside the files dir, and a print running meanwhile stays undisturbed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { PERMISSIONS } from '../../services/shared/permissions.ts';
import { octoprintRoutes } from '../../services/web/octoprint/index.ts';
import { assertShape } from '../helpers/contract.ts';
import { form, startOctoStack, type OctoStack, type Reply } from '../helpers/octoprint.ts';
import { gcodeLines } from '../helpers/virtual-printer.ts';

const PRINTER = 'vp-1';
const FLAGS = ['operational', 'printing', 'cancelling', 'pausing', 'resuming', 'finishing', 'closedOrError', 'error', 'paused', 'ready', 'sdReady'];
let s: OctoStack;

before(async () => { s = await startOctoStack('octo-api', [PRINTER], { 'cube.gcode': ['G28', ...gcodeLines(8000)].join('\n') + '\n' }); });
after(async () => { await s?.close(); });

/** OctoPrint's error format (make_api_error): exactly {"error": "<message>"}. */
function assertOctoError(r: Reply, status: number, what: string, message?: RegExp): void {
  assert.equal(r.status, status, `${what}: ${r.status} ${r.text}`);
  assert.deepEqual(Object.keys(r.json), ['error'], `${what}: ${r.text}`);
  assert.equal(typeof r.json.error, 'string', `${what}: ${r.text}`);
  if (message) assert.match(r.json.error as unknown as string, message, what);
}

const jobOf = () => s.stack.client.call('jobs.get', { printerId: PRINTER });

test('"Version information" and "Server information": GET /api/version, GET /api/server', async () => {
  const v = await s.octo(PRINTER, 'api/version');
  assert.equal(v.status, 200);
  assertShape(v.json, { api: 'string', server: 'string', text: 'string' }, 'GET /api/version');
  const sv = await s.octo(PRINTER, 'api/server');
  assertShape(sv.json, { version: 'string', safemode: ['string', 'null'] }, 'GET /api/server');
});

test('"Current User": GET /api/currentuser, with a key and anonymously; "General information" passive login', async () => {
  const me = await s.octo(PRINTER, 'api/currentuser');
  assertShape(me.json, { name: 'string', permissions: 'array', groups: 'array' }, 'GET /api/currentuser');
  assert.ok((me.json.permissions as unknown as string[]).includes('PRINT'), me.text);
  const viewer = await s.octo(PRINTER, 'api/currentuser', { key: s.keys.viewer });
  assert.ok(!(viewer.json.permissions as unknown as string[]).includes('PRINT'), viewer.text);
  const anon = await s.octo(PRINTER, 'api/currentuser', { key: null });
  assert.equal(anon.status, 200);
  assert.deepEqual(anon.json, { name: null, permissions: [], groups: ['guests'] });
  const login = await s.octo(PRINTER, 'api/login', { body: { passive: true } });
  assertShape(login.json, { name: 'string', active: 'boolean', admin: 'boolean', permissions: 'array', groups: 'array' }, 'POST /api/login passive');
  assertOctoError(await s.octo(PRINTER, 'api/login', { body: { user: 'admin', pass: 'x' } }), 400, 'login with a password', /API key/);
});

test('"Settings" (the subset clients read) and "Printer profile operations": GET /api/settings, GET /api/printerprofiles', async () => {
  const st = await s.octo(PRINTER, 'api/settings');
  assertShape(st.json, { api: 'object', appearance: 'object', feature: 'object', webcam: 'object', plugins: 'object' }, 'GET /api/settings');
  assertShape(st.json.webcam, { webcamEnabled: 'boolean', streamUrl: 'string', snapshotUrl: 'string', flipH: 'boolean', flipV: 'boolean', rotate90: 'boolean', bitrate: 'string', snapshotSslValidation: 'boolean' }, 'settings webcam');
  const pp = await s.octo(PRINTER, 'api/printerprofiles');
  const prof = (pp.json.profiles as Record<string, unknown>)._default;
  assertShape(prof, { id: 'string', name: 'string', model: 'string', current: 'boolean', default: 'boolean', volume: 'object', heatedBed: 'boolean', heatedChamber: 'boolean', extruder: 'object', axes: 'object' }, 'printer profile');
  assertShape((prof as { volume: unknown }).volume, { width: 'number', depth: 'number', height: 'number', formFactor: 'string', origin: 'string' }, 'profile volume');
});

test('"Connection handling": GET /api/connection; POST connect 204, disconnect 400, bad command 400', async () => {
  const c = await s.octo(PRINTER, 'api/connection');
  assertShape(c.json, { current: 'object', options: 'object' }, 'GET /api/connection');
  assertShape(c.json.current, { state: 'string', port: ['string', 'null'], baudrate: ['number', 'null'], printerProfile: 'string' }, 'connection current');
  assertShape(c.json.options, { ports: 'array', baudrates: 'array', printerProfiles: 'array', autoconnect: 'boolean' }, 'connection options');
  assert.equal((await s.octo(PRINTER, 'api/connection', { body: { command: 'connect' } })).status, 204);
  assertOctoError(await s.octo(PRINTER, 'api/connection', { body: { command: 'disconnect' } }), 400, 'disconnect', /connected/);
  assertOctoError(await s.octo(PRINTER, 'api/connection', { body: { command: 'explode' } }), 400, 'bad command', /command is invalid/);
  assertOctoError(await s.octo(PRINTER, 'api/connection', { key: s.keys.viewer, body: { command: 'connect' } }), 403, 'viewer connect');
});

test('"Printer operations": GET /api/printer with exclude and history/limit; POST /api/printer/command', async () => {
  const p = await s.octo(PRINTER, 'api/printer');
  assert.equal(p.status, 200, p.text);
  assertShape(p.json, { temperature: 'object', state: 'object' }, 'GET /api/printer');
  assertShape((p.json.temperature as Record<string, unknown>).tool0, { actual: 'number', target: ['number', 'null'], offset: 'number' }, 'temperature tool0');
  const state = p.json.state as { text: string; flags: Record<string, unknown> };
  assert.equal(state.text, 'Operational');
  assert.deepEqual(Object.keys(state.flags).sort(), [...FLAGS].sort());
  assert.deepEqual(Object.keys((await s.octo(PRINTER, 'api/printer?exclude=temperature,sd')).json), ['state']);
  const h = await s.octo(PRINTER, 'api/printer?history=true&limit=2&exclude=state');
  const history = (h.json.temperature as { history: Array<Record<string, unknown>> }).history;
  assert.ok(Array.isArray(history) && history.length <= 2 && typeof history[0]!.time === 'number', h.text);
  assert.equal((await s.octo(PRINTER, 'api/printer/command', { body: { command: 'M117 hello' } })).status, 204);
  assert.equal((await s.octo(PRINTER, 'api/printer/command', { body: { commands: ['M105', 'M117 two'] } })).status, 204);
  assertOctoError(await s.octo(PRINTER, 'api/printer/command', { body: { command: 'M105', commands: ['M105'] } }), 400, 'both', /mutually exclusive/);
  assertOctoError(await s.octo(PRINTER, 'api/printer/command', { body: {} }), 400, 'none', /Need one of/);
  assertOctoError(await s.octo(PRINTER, 'api/printer/command', { key: s.keys.viewer, body: { command: 'M105' } }), 403, 'viewer command');
});

test('"File operations": list, upload (201 + Location), one file, select, delete', async () => {
  for (const p of ['api/files', 'api/files/local']) {
    const l = await s.octo(PRINTER, p);
    assertShape(l.json, { files: 'array', free: 'number', total: 'number' }, `GET /${p}`);
    const cube = (l.json.files as unknown as Array<Record<string, unknown>>).find((f) => f.name === 'cube.gcode');
    assertShape(cube, { name: 'string', display: 'string', path: 'string', type: 'string', typePath: 'array', origin: 'string', size: 'number', date: 'number', refs: 'object', gcodeAnalysis: 'object' }, 'file entry');
  }
  const up = form([['file', 'shape.gcode', 'G28\nG1 X5\n'], ['select', 'false']]);
  const r = await s.octo(PRINTER, 'api/files/local', { raw: up.raw, headers: up.headers });
  assert.equal(r.status, 201, r.text);
  assertShape(r.json, { files: 'object', done: 'boolean', effectiveSelect: 'boolean', effectivePrint: 'boolean' }, 'upload answer');
  assertShape((r.json.files as { local: unknown }).local, { name: 'string', path: 'string', origin: 'string', refs: 'object' }, 'upload files.local');
  const one = await s.octo(PRINTER, 'api/files/local/shape.gcode');
  assert.equal(one.status, 200);
  assert.equal(one.json.origin, 'local');
  assertOctoError(await s.octo(PRINTER, 'api/files/local/missing.gcode'), 404, 'missing file', /File not found/);
  assert.equal((await s.octo(PRINTER, 'api/files/local/shape.gcode', { body: { command: 'select' } })).status, 204);
  assert.equal((((await s.octo(PRINTER, 'api/job')).json.job as { file: { name: string } }).file.name), 'shape.gcode');
  assertOctoError(await s.octo(PRINTER, 'api/files/local/shape.gcode', { body: { command: 'copy', destination: 'x' } }), 400, 'copy');
  assertOctoError(await s.octo(PRINTER, 'api/files/local/shape.gcode', { key: s.keys.viewer, method: 'DELETE' }), 403, 'viewer delete');
  assert.equal((await s.octo(PRINTER, 'api/files/local/shape.gcode', { method: 'DELETE' })).status, 204);
  assertOctoError(await s.octo(PRINTER, 'api/files/local/shape.gcode', { method: 'DELETE' }), 404, 'deleted twice');
  assert.equal((((await s.octo(PRINTER, 'api/job')).json.job as { file: { name: null } }).file.name), null, 'deleted file no longer selected');
});

test('"Job operations": GET /api/job shape; start, pause toggle, restart, cancel and their 409s', { timeout: 60_000 }, async () => {
  const idle = await s.octo(PRINTER, 'api/job');
  assertShape(idle.json, { job: 'object', progress: 'object', state: 'string' }, 'GET /api/job');
  assertShape(idle.json.job, { file: 'object', estimatedPrintTime: ['number', 'null'], filament: ['object', 'null'] }, 'job.job');
  assertShape(idle.json.progress, { completion: ['number', 'null'], filepos: ['number', 'null'], printTime: ['number', 'null'], printTimeLeft: ['number', 'null'] }, 'job.progress');
  assertOctoError(await s.octo(PRINTER, 'api/job', { body: { command: 'start' } }), 409, 'start without a selection', /No file is selected/);
  assertOctoError(await s.octo(PRINTER, 'api/job', { body: { command: 'pause' } }), 409, 'pause idle', /neither printing nor paused/);
  assertOctoError(await s.octo(PRINTER, 'api/job', { body: { command: 'fly' } }), 400, 'bad command', /command is invalid/);
  assert.equal((await s.octo(PRINTER, 'api/files/local/cube.gcode', { body: { command: 'select' } })).status, 204);
  assert.equal((await s.octo(PRINTER, 'api/job', { body: { command: 'start' } })).status, 204);
  await s.stack.until(async () => (await jobOf()).state === 'printing' && (await jobOf()).file === 'cube.gcode', 20_000, 'printing');
  assertOctoError(await s.octo(PRINTER, 'api/job', { body: { command: 'start' } }), 409, 'start twice', /restart/);
  assertOctoError(await s.octo(PRINTER, 'api/job', { body: { command: 'restart' } }), 409, 'restart while printing', /not paused/);
  assertOctoError(await s.octo(PRINTER, 'api/files/local/cube.gcode', { body: { command: 'select' } }), 409, 'select while printing', /already printing/);
  assertOctoError(await s.octo(PRINTER, 'api/job', { body: { command: 'pause', action: 'sideways' } }), 400, 'bad action', /Unknown action/);
  assert.equal((await s.octo(PRINTER, 'api/job', { body: { command: 'pause' } })).status, 204, 'toggle → paused');
  await s.stack.until(async () => (await jobOf()).state === 'paused', 30_000, 'paused');
  const paused = await s.octo(PRINTER, 'api/printer');
  assert.equal((paused.json.state as { flags: { paused: boolean } }).flags.paused || (paused.json.state as { flags: { pausing: boolean } }).flags.pausing, true);
  assert.equal((await s.octo(PRINTER, 'api/job', { body: { command: 'restart' } })).status, 204, 'restart from paused');
  const restarted = await s.stack.until(async () => { const j = await jobOf(); return j.state === 'printing' && j; }, 30_000, 'restarted');
  assert.equal(restarted.file, 'cube.gcode');
  assert.equal((await s.octo(PRINTER, 'api/job', { body: { command: 'cancel' } })).status, 204);
  await s.stack.untilState(PRINTER, 'idle');
});

test('hostile and broken input: clear {"error"} answers, nothing written outside the files dir, a running print undisturbed', { timeout: 60_000 }, async () => {
  const filesDir = path.join(s.stack.dataDir, 'files');
  const outside = () => fs.readdirSync(s.stack.dataDir).sort();
  const before = { outside: outside(), files: fs.readdirSync(filesDir).sort() };
  await s.stack.printUntil(PRINTER, 'cube.gcode', 20);
  const sentBefore = (await jobOf()).lines_sent;

  const bad: Array<[string, ReturnType<typeof form>, number, RegExp]> = [
    ['path traversal in path', form([['path', '../../etc'], ['file', 'evil.gcode', 'G28\n']]), 400, /one folder/],
    ['absolute path', form([['path', '/tmp'], ['file', 'evil.gcode', 'G28\n']]), 400, /one folder/],
    ['traversal in the filename', form([['file', '../evil.gcode', 'G28\n']]), 400, /invalid file name/],
    ['backslash traversal', form([['file', '..\\evil.gcode', 'G28\n']]), 400, /invalid file name/],
    ['not G-code', form([['file', 'model.stl', 'solid x\n']]), 415, /invalid type/],
    ['no file part', form([['print', 'true'], ['path', '']]), 400, /No file to upload/],
    ['binary content', form([['file', 'bin.gcode', Buffer.from([0x47, 0x31, 0x00, 0xff, 0x0a])]]), 400, /binary/],
    ['overwriting the printing file', form([['file', 'cube.gcode', 'G28\n']]), 409, /currently being printed/],
  ];
  for (const [what, body, status, re] of bad) assertOctoError(await s.octo(PRINTER, 'api/files/local', { raw: body.raw, headers: body.headers }), status, what, re);
  assertOctoError(await s.octo(PRINTER, 'api/files/local', { body: { file: 'x' } }), 415, 'JSON instead of multipart');
  assertOctoError(await s.octo(PRINTER, 'api/files/local/..%2F..%2Fprinter.db'), 400, 'traversal in the URL', /path separators/);
  assertOctoError(await s.octo(PRINTER, 'api/files/local/..%2Fprinter.db', { method: 'DELETE' }), 400, 'DELETE traversal');
  assertOctoError(await s.octo(PRINTER, 'api/files/local/cube.gcode', { method: 'DELETE' }), 409, 'delete the printing file', /in use/);

  // credentials: none, wrong, in the query (even with a good header), another printer's id
  assertOctoError(await s.octo(PRINTER, 'api/version', { key: null }), 403, 'no key', /X-Api-Key/);
  assertOctoError(await s.octo(PRINTER, 'api/job', { key: 'not-a-key' }), 403, 'wrong key');
  assertOctoError(await s.octo(PRINTER, `api/version?apikey=${s.keys.api}`), 401, 'key in header and query', /URL/);
  assertOctoError(await s.octo(PRINTER, `api/job?apikey=${s.keys.api}`, { key: null }), 401, 'key in query only', /X-Api-Key/);
  assertOctoError(await s.octo('no-such-printer', 'api/version'), 404, 'unknown printer', /Unknown printer/);
  assertOctoError(await s.octo('no-such-printer', 'api/files/local', { key: null }), 403, 'unknown printer without a key');
  assertOctoError(await s.octo(PRINTER, 'api/nothing-here'), 404, 'unknown endpoint');
  assertOctoError(await s.octo(PRINTER, 'api/job', { body: { command: 'cancel' }, headers: { Origin: 'https://evil.example' } }), 403, 'cross-origin POST');
  assertOctoError(await s.octo(PRINTER, 'api/job', { key: s.keys.viewer, body: { command: 'cancel' } }), 403, 'viewer cancel');

  assert.deepEqual(outside(), before.outside, 'nothing new next to the files dir');
  assert.deepEqual(fs.readdirSync(filesDir).sort(), before.files, 'no file or spool left in the files dir');
  const job = await jobOf();
  assert.deepEqual([job.state, job.file], ['printing', 'cube.gcode'], 'the print runs on');
  assert.ok(job.lines_sent > sentBefore, `still sending (${sentBefore} → ${job.lines_sent})`);
  assert.equal((await s.octo(PRINTER, 'api/job', { body: { command: 'cancel' } })).status, 204);
  await s.stack.untilState(PRINTER, 'idle');
});

test('"Printer operations" 409 when the printer is not operational; "Connection handling" connect resets it', { timeout: 90_000 }, async () => {
  assert.equal((await s.octo(PRINTER, 'api/printer/command', { body: { command: 'M112' } })).status, 204);
  await s.stack.untilState(PRINTER, 'error');
  assertOctoError(await s.octo(PRINTER, 'api/printer'), 409, 'GET /api/printer in error', /^Printer is not operational$/);
  assertOctoError(await s.octo(PRINTER, 'api/job', { body: { command: 'start' } }), 409, 'POST /api/job in error', /not operational/);
  const job = await s.octo(PRINTER, 'api/job');
  assert.match(String(job.json.state), /^Error/);
  assert.equal((await s.octo(PRINTER, 'api/connection', { body: { command: 'connect' } })).status, 204);
  await s.stack.untilState(PRINTER, 'idle', 40_000);
  assert.equal((await s.octo(PRINTER, 'api/printer')).status, 200);
});

test('every OctoPrint route refuses a key without its permission (403, as OctoPrint) and admits one with only that permission', { timeout: 120_000 }, async () => {
  const key = async (name: string, permissions: string[]) => {
    const r = await s.stack.call('POST', '/api/apikeys', { name, permissions });
    assert.equal(r.status, 201, r.text);
    return (r.json as { key: string }).key;
  };
  let checked = 0;
  for (const route of octoprintRoutes) {
    if (route.access === 'public') continue;
    const what = `${route.method.toUpperCase()} ${route.path} (${route.access})`;
    const sub = route.path.replace('/:printer/', '').replace(':name', 'x.gcode');
    const send = (k: string | null) => s.octo(PRINTER, sub, { method: route.method.toUpperCase(), key: k, ...(route.method === 'get' ? {} : { body: {} }) });
    assertOctoError(await send(null), 403, `${what} anonymous`);
    if (route.access === 'authenticated') { checked++; continue; }
    const perm = route.access;
    assertOctoError(await send(await key(`not ${perm}`, PERMISSIONS.filter((p) => p !== perm))), 403, `${what} without it`, /Missing permission/);
    const allowed = await send(await key(`only ${perm}`, [perm]));
    assert.notEqual(allowed.status, 403, `${what} with only it: ${allowed.text}`);
    checked++;
  }
  assert.ok(checked >= 15, `walked ${checked} routes`);
});

test('"Application Keys" plugin: a bogus token is 404, a flood of requests stops at 16 waiting (429)', async () => {
  assertOctoError(await s.octo(PRINTER, 'plugin/appkeys/request/not-a-token', { key: null }), 404, 'bogus token');
  assertOctoError(await s.octo('no-such-printer', 'plugin/appkeys/probe', { key: null }), 404, 'probe on an unknown printer');
  const statuses: number[] = [];
  for (let i = 0; i < 17; i++) statuses.push((await s.octo(PRINTER, 'plugin/appkeys/request', { key: null, body: { app: `flood ${i}` } })).status);
  assert.deepEqual(statuses, [...Array(16).fill(201), 429]);
  assertOctoError(await s.octo(PRINTER, 'plugin/appkeys/request', { key: null, body: { app: 'one more' } }), 429, 'still full', /Too many/);
});
