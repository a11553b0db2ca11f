/**
 * The control panel's API against the virtual printer (real printer service, real web): the exact G-code
 * each control sends, the guards (jog/home/extrude/motors off refused while printing, extrusion refused
 * cold — nothing sent either way), out-of-range values (400), overrides and babystep during a print that
 * keeps printing, the printer profile (firmware defaults, edits, a list of validation errors) and macros.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startPrinterStack, type PrinterStack } from '../helpers/printer-stack.ts';
import { gcodeLines } from '../helpers/virtual-printer.ts';
import type { Reply } from '../helpers/web.ts';

const PRINTER = 'vp-1';
let s: PrinterStack;
const keys = { api: '', viewer: '' };

before(async () => {
  s = await startPrinterStack({
    tag: 'control', web: true, baudrates: [250_000], files: { 'long.gcode': ['G28', ...gcodeLines(8000)].join('\n') + '\n' },
    printers: { [PRINTER]: { baud: 250_000, latencyMs: 2, record: true, chamber: true } },
  });
  await s.untilState(PRINTER, 'idle');
  for (const role of ['api', 'viewer'] as const) {
    const r = await s.call('POST', '/api/apikeys', { name: `control-${role}`, role });
    assert.equal(r.status, 201, r.text);
    keys[role] = (r.json as { key: string }).key;
  }
  // Temperatures first: the profile's heaters come from the reports.
  await s.until(async () => 'C' in (await s.client.call('printers.get', { id: PRINTER })).temperatures, 10_000, 'temperature report');
});
after(async () => { await s?.close(); });

const sim = () => s.vps[PRINTER]!.sim;
/** What the printer service sends by itself (temperature polls, autoreport, line numbering). */
const own = /^(M105|M155|M110|M115)\b/;
const sentSince = (mark: number) => sim().executed.slice(mark).filter((c) => !own.test(c));
const as = (key: string) => ({ Authorization: `Bearer ${key}` });
const control = (body: unknown, key?: string) => s.call('POST', `/api/printers/${PRINTER}/control`, body, key ? as(key) : undefined);
const settle = () => new Promise((r) => setTimeout(r, 300));

async function sends(body: unknown, lines: string[]): Promise<void> {
  const mark = sim().executed.length;
  const r = await control(body);
  assert.equal(r.status, 202, `${JSON.stringify(body)}: ${r.text}`);
  assert.deepEqual((r.json as { queued: string[] }).queued, lines);
  await s.until(() => sentSince(mark).length >= lines.length, 10_000, lines.join(' | '));
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(sentSince(mark), lines, JSON.stringify(body));
}

function assertError(r: Reply, status: number, code: string, message?: RegExp): void {
  const e = (r.json as { error?: { code: string; message: string } }).error;
  assert.equal(r.status, status, r.text);
  assert.equal(e?.code, code, r.text);
  if (message) assert.match(e!.message, message);
}

async function refused(body: unknown, status: number, code: string, message?: RegExp, key?: string): Promise<void> {
  const mark = sim().executed.length;
  assertError(await control(body, key), status, code, message);
  await settle();
  assert.deepEqual(sentSince(mark), [], `nothing sent for ${JSON.stringify(body)}`);
}

const hotend = async () => (await s.client.call('printers.get', { id: PRINTER })).temperatures.T0?.actual ?? 0;

test('every control sends its G-code through the queue', async () => {
  await sends({ action: 'home' }, ['G28']);
  await sends({ action: 'home', axes: ['y', 'x'] }, ['G28 X Y']);
  await sends({ action: 'jog', x: 10, y: -5.5 }, ['G91', 'G1 X10 Y-5.5 F6000', 'G90']);
  await sends({ action: 'jog', z: 0.1 }, ['G91', 'G1 Z0.1 F200', 'G90']);
  await sends({ action: 'jog', x: 100, feedrate: 3000 }, ['G91', 'G1 X100 F3000', 'G90']);
  await sends({ action: 'temperature', heater: 'B', target: 60 }, ['M140 S60']);
  await sends({ action: 'temperature', heater: 'C', target: 40 }, ['M141 S40']);
  await sends({ action: 'temperature', heater: 'B', target: 0 }, ['M140 S0']);
  await sends({ action: 'temperature', heater: 'C', target: 0 }, ['M141 S0']);
  await sends({ action: 'fan', percent: 50 }, ['M106 S128']);
  await sends({ action: 'fan', percent: 100 }, ['M106 S255']);
  await sends({ action: 'fan', percent: 0 }, ['M107']);
  await sends({ action: 'feedrate', percent: 120 }, ['M220 S120']);
  await sends({ action: 'flowrate', percent: 95 }, ['M221 S95']);
  await sends({ action: 'babystep', z: -0.05 }, ['M290 Z-0.05']);
  await sends({ action: 'motorsOff' }, ['M18']);
});

test('extrusion is refused while the hotend is cold, with its temperature; allowed once hot', { timeout: 60_000 }, async () => {
  await refused({ action: 'extrude', amount: 5 }, 409, 'cold_extrusion', /^Hotend T0 is \d+ °C; extruding needs at least 170 °C/);
  await refused({ action: 'extrude', amount: -2 }, 409, 'cold_extrusion', /Heat it first/);
  await sends({ action: 'temperature', heater: 'T0', target: 200 }, ['M104 S200']);
  await s.until(async () => (await hotend()) >= 170, 30_000, 'hotend at 170 °C');
  await sends({ action: 'extrude', amount: 5 }, ['M83', 'G1 E5 F300', 'M82']);
  await sends({ action: 'extrude', amount: -2.5, feedrate: 120 }, ['M83', 'G1 E-2.5 F120', 'M82']);
  await sends({ action: 'temperature', heater: 'T0', target: 0 }, ['M104 S0']);
});

test('out-of-range and malformed values are 400 and send nothing; no permission is 403', async () => {
  const bad: Array<[unknown, string, RegExp?]> = [
    [{ action: 'jog', x: 500 }, 'out_of_range', /x must be from -200 to 200 mm/],
    [{ action: 'jog', z: -201 }, 'out_of_range'],
    [{ action: 'jog' }, 'bad_request', /needs x, y and\/or z/],
    [{ action: 'jog', x: 'far' }, 'bad_request', /x must be a number/],
    [{ action: 'jog', x: 1, feedrate: 99_999 }, 'out_of_range', /feedrate must be from 1 to 6000/],
    [{ action: 'jog', x: 1, e: 5 }, 'bad_request', /takes no "e"/],
    [{ action: 'home', axes: ['x', 'e'] }, 'bad_request'],
    [{ action: 'extrude', amount: 150 }, 'out_of_range', /amount must be from -100 to 100 mm/],
    [{ action: 'extrude', amount: 5, feedrate: 5000 }, 'out_of_range'],
    [{ action: 'extrude' }, 'bad_request', /needs "amount"/],
    [{ action: 'temperature', heater: 'T0', target: 400 }, 'out_of_range', /target must be from 0 to 285 °C/],
    [{ action: 'temperature', heater: 'B', target: -1 }, 'out_of_range'],
    [{ action: 'temperature', heater: 'X', target: 50 }, 'bad_request'],
    [{ action: 'fan', percent: 101 }, 'out_of_range', /percent must be from 0 to 100 %/],
    [{ action: 'feedrate', percent: 5 }, 'out_of_range', /percent must be from 10 to 500 %/],
    [{ action: 'flowrate', percent: 1000 }, 'out_of_range'],
    [{ action: 'babystep', z: 2 }, 'out_of_range', /z must be from -1 to 1 mm/],
    [{ action: 'babystep', z: 0 }, 'out_of_range'],
    [{ action: 'fly' }, 'bad_action', /action must be one of/],
    [{ action: 'gcode', lines: ['G28'] }, 'bad_action'],
    [[1, 2], 'bad_request'],
  ];
  for (const [body, code, re] of bad) await refused(body, 400, code, re);
  await refused({ action: 'temperature', heater: 'T1', target: 200 }, 409, 'no_heater', /no T1/);
  await refused({ action: 'home' }, 403, 'forbidden', undefined, keys.viewer);
  assertError(await s.call('POST', '/api/printers/vp-9/control', { action: 'home' }), 404, 'not_found');
});

test('the profile: firmware defaults, edits that change the limits, every problem listed, reset', async () => {
  const url = `/api/printers/${PRINTER}/profile`;
  const first = await s.call('GET', url);
  assert.equal(first.status, 200, first.text);
  const def = first.json as { profile: Record<string, unknown>; edited: boolean };
  assert.equal(def.edited, false);
  assert.equal(def.profile.extruders, 1, 'EXTRUDER_COUNT:1 from M115');
  assert.equal(def.profile.heatedBed, true, 'B: reported');
  assert.equal(def.profile.heatedChamber, true, 'C: reported');
  assert.deepEqual(def.profile.jogSteps, [0.1, 1, 10, 100]);

  const put = await s.call('PUT', url, { volume: { width: 300 }, axes: { x: { speed: 9000 } }, heatedChamber: false });
  assert.equal(put.status, 200, put.text);
  const edited = put.json as { profile: { volume: Record<string, number>; axes: Record<string, { speed: number; inverted: boolean }> }; edited: boolean };
  assert.equal(edited.edited, true);
  assert.deepEqual(edited.profile.volume, { width: 300, depth: 200, height: 200 }, 'merged, not replaced');
  assert.deepEqual(edited.profile.axes.x, { speed: 9000, inverted: false });
  await sends({ action: 'jog', x: 250 }, ['G91', 'G1 X250 F9000', 'G90']);
  await refused({ action: 'temperature', heater: 'C', target: 40 }, 409, 'no_heater', /no heated chamber/);
  assert.equal(((await s.call('GET', url)).json as { edited: boolean }).edited, true, 'stored');

  const bad = await s.call('PUT', url, { extruders: 0, volume: { width: -1 }, bogus: 1, presets: [{ name: '', hotend: 999, bed: 0 }], jogSteps: [] });
  assertError(bad, 400, 'invalid_profile');
  const errors = (bad.json as unknown as { error: { details: { errors: string[] } } }).error.details.errors;
  for (const re of [/^bogus is not a profile field$/, /^volume.width must be/, /^extruders must be a whole number from 1 to 8$/, /^jogSteps/, /^presets\[0\].name/, /^presets\[0\].hotend must be a number from 0 to 285$/]) {
    assert.ok(errors.some((e) => re.test(e)), `${re} in ${JSON.stringify(errors)}`);
  }
  assertError(await s.call('PUT', url, { extruders: 2 }, as(keys.api)), 403, 'forbidden');
  const reset = await s.call('DELETE', url);
  assert.equal(reset.status, 200, reset.text);
  assert.deepEqual(reset.json, def, 'back to the firmware defaults');
});

test('macros: create, list, run through the queue, permission, unknown 404, bad G-code 400, delete', async () => {
  const purge = { name: 'Purge line', description: 'Prime the nozzle', gcode: '; purge\nG1 X5 Y5 F3000 ; to the corner\n\nM117 Purging\n' };
  const created = await s.call('POST', '/api/macros', purge);
  assert.equal(created.status, 201, created.text);
  assert.deepEqual(created.json, { ...purge, permission: 'printers.control', whilePrinting: false });
  assertError(await s.call('POST', '/api/macros', purge), 409, 'macro_exists');
  const bad = await s.call('POST', '/api/macros', { name: 'bad', gcode: 'G1 X1*12\n10 G28', permission: 'root' });
  assertError(bad, 400, 'invalid_macro');
  assert.equal((bad.json as unknown as { error: { details: { errors: string[] } } }).error.details.errors.length, 3, bad.text);
  assertError(await s.call('POST', '/api/macros', { name: '', gcode: '' }), 400, 'invalid_macro');
  assertError(await s.call('POST', '/api/macros', { name: 'x', gcode: 'M117 hi' }, as(keys.api)), 403, 'forbidden');

  const mark = sim().executed.length;
  const run = await s.call('POST', `/api/printers/${PRINTER}/macros/${encodeURIComponent('Purge line')}`, {}, as(keys.api));
  assert.equal(run.status, 202, run.text);
  await s.until(() => sentSince(mark).length >= 2, 10_000, 'macro lines');
  await settle();
  assert.deepEqual(sentSince(mark), ['G1 X5 Y5 F3000', 'M117 Purging'], 'comments and blank lines dropped');

  assert.equal((await s.call('POST', '/api/macros', { name: 'Mesh', gcode: 'G29', permission: 'settings.manage' })).status, 201);
  const m2 = sim().executed.length;
  assertError(await s.call('POST', `/api/printers/${PRINTER}/macros/Mesh`, {}, as(keys.api)), 403, 'forbidden', /needs the settings.manage permission/);
  assertError(await s.call('POST', `/api/printers/${PRINTER}/macros/Nope`, {}), 404, 'not_found', /Macro "Nope" not found/);
  await settle();
  assert.deepEqual(sentSince(m2), []);

  const list = await s.call('GET', '/api/macros', undefined, as(keys.viewer));
  assert.deepEqual((list.json as unknown as Array<{ name: string }>).map((m) => m.name), ['Mesh', 'Purge line']);
  const upd = await s.call('PUT', '/api/macros/Mesh', { gcode: 'G28\nG29', whilePrinting: false });
  assert.equal(upd.status, 200, upd.text);
  assertError(await s.call('PUT', '/api/macros/Mesh', { name: 'Other', gcode: 'G29' }), 400, 'bad_request');
  assertError(await s.call('PUT', '/api/macros/Nope', { gcode: 'G29' }), 404, 'not_found');
  assert.equal((await s.call('DELETE', '/api/macros/Mesh')).status, 204);
  assertError(await s.call('DELETE', '/api/macros/Mesh'), 404, 'not_found');
  assertError(await s.call('POST', `/api/printers/${PRINTER}/macros/Mesh`, {}), 404, 'not_found');
});

test('while printing: moves, extrusion, motors off and ordinary macros are 409 with nothing sent; overrides and babystep go through and the print goes on', { timeout: 90_000 }, async () => {
  assert.equal((await s.call('POST', '/api/macros', { name: 'Fan full', gcode: 'M106 S255', whilePrinting: true })).status, 201);
  await s.printUntil(PRINTER, 'long.gcode', 50);
  const mark = sim().executed.length;
  for (const body of [{ action: 'jog', x: 1 }, { action: 'home' }, { action: 'extrude', amount: 1 }, { action: 'motorsOff' }]) {
    assertError(await control(body), 409, 'printing', /while a print is running or paused/);
  }
  assertError(await s.call('POST', `/api/printers/${PRINTER}/macros/${encodeURIComponent('Purge line')}`, {}), 409, 'printing');
  await settle();
  const leaked = sentSince(mark).filter((c) => /^(G91|G28|M83|M18|M117)\b/.test(c) || c === 'G1 X1 F6000');
  assert.deepEqual(leaked, [], 'no refused line reached the printer');

  const before = (await s.client.call('jobs.get', { printerId: PRINTER })).lines_sent;
  for (const body of [{ action: 'feedrate', percent: 110 }, { action: 'flowrate', percent: 105 }, { action: 'babystep', z: 0.05 }, { action: 'fan', percent: 60 }]) {
    const r = await control(body);
    assert.equal(r.status, 202, r.text);
  }
  assert.equal((await s.call('POST', `/api/printers/${PRINTER}/macros/${encodeURIComponent('Fan full')}`, {})).status, 202);
  await s.until(() => ['M220 S110', 'M221 S105', 'M290 Z0.05', 'M106 S153', 'M106 S255'].every((c) => sim().executed.slice(mark).includes(c)), 20_000, 'overrides executed');
  const job = await s.until(async () => { const j = await s.client.call('jobs.get', { printerId: PRINTER }); return j.lines_sent > before + 200 && j; }, 20_000, 'the print goes on');
  assert.equal(job.state, 'printing');
  const cancelled = await s.call('POST', `/api/printers/${PRINTER}/job/cancel`);
  assert.equal(cancelled.status, 200, cancelled.text);
});
