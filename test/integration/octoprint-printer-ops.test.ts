/**
 * OctoPrint's "Printer operations" beyond GET /api/printer and its "System" commands, checked against
 * docs.octoprint.org/en/master/api/printer.html and system.html and against octoprint/printer/standard.py
 * for the G-code: every command's status and the exact lines that reach the virtual printer, bad input
 * (400 with OctoPrint's {"error"} and message), 409 while printing or not operational, SD support off (404).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertShape } from '../helpers/contract.ts';
import { startOctoStack, type OctoStack, type Reply } from '../helpers/octoprint.ts';
import { gcodeLines } from '../helpers/virtual-printer.ts';

const PRINTER = 'vp-1';
let s: OctoStack;

before(async () => { s = await startOctoStack('octo-ops', [PRINTER], { 'long.gcode': ['G28', ...gcodeLines(8000)].join('\n') + '\n' }); });
after(async () => { await s?.close(); });

const sim = () => s.stack.vps[PRINTER]!.sim;
/** What the printer service sends by itself (temperature polls, autoreport, line numbering). */
const own = /^(M105|M155|M110|M115)\b/;
const sentSince = (mark: number) => sim().executed.slice(mark).filter((c) => !own.test(c));

function assertOctoError(r: Reply, status: number, what: string, message?: RegExp): void {
  assert.equal(r.status, status, `${what}: ${r.status} ${r.text}`);
  assert.deepEqual(Object.keys(r.json), ['error'], `${what}: ${r.text}`);
  if (message) assert.match(String(r.json.error), message, what);
}

/** POSTs `body` to `path`, expects 204 and exactly `lines` reaching the firmware, in order. */
async function sends(path: string, body: unknown, lines: string[]): Promise<void> {
  const mark = sim().executed.length;
  const r = await s.octo(PRINTER, path, { body });
  assert.equal(r.status, 204, `${path} ${JSON.stringify(body)}: ${r.text}`);
  await s.stack.until(() => sentSince(mark).length >= lines.length, 10_000, lines.join(' | '));
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(sentSince(mark), lines, `${path} ${JSON.stringify(body)}`);
}

/** Expects 204 and nothing sent to the printer. */
async function sendsNothing(path: string, body: unknown): Promise<void> {
  const mark = sim().executed.length;
  const r = await s.octo(PRINTER, path, { body });
  assert.equal(r.status, 204, r.text);
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(sentSince(mark), [], `${path} ${JSON.stringify(body)} sent nothing`);
}

const target = async (path: string, heater: string) => ((await s.octo(PRINTER, path)).json[heater] as { target: number } | undefined)?.target;

test('"Issue a print head command": jog (relative, absolute, speed), home, feedrate', async () => {
  await sends('api/printer/printhead', { command: 'jog', x: 10, y: -5.5 }, ['G91', 'G0 X10 Y-5.5 F6000', 'G90']);
  await sends('api/printer/printhead', { command: 'jog', z: 2, absolute: true, speed: 1200 }, ['G90', 'G0 Z2 F1200']);
  await sends('api/printer/printhead', { command: 'jog', x: 1, z: 0.5 }, ['G91', 'G0 X1 Z0.5 F200', 'G90']);
  await sends('api/printer/printhead', { command: 'jog', y: 3, speed: false }, ['G91', 'G0 Y3', 'G90']);
  await sends('api/printer/printhead', { command: 'home', axes: ['x', 'y'] }, ['G91', 'G28 X0 Y0', 'G90']);
  await sends('api/printer/printhead', { command: 'home', axes: ['z'] }, ['G91', 'G28 Z0', 'G90']);
  await sends('api/printer/printhead', { command: 'feedrate', factor: 150 }, ['M220 S150']);
  await sends('api/printer/printhead', { command: 'feedrate', factor: 0.9 }, ['M220 S90']);
  await sends('api/printer/printhead', { command: 'feedrate', factor: 1 }, ['M220 S100']);

  const bad: Array<[unknown, RegExp]> = [
    [{ command: 'fly' }, /^command is invalid$/],
    [{}, /^command is invalid$/],
    [{ command: 'home' }, /^Mandatory parameters missing$/],
    [{ command: 'feedrate' }, /^Mandatory parameters missing$/],
    [{ command: 'jog', x: 'far' }, /^axis value is invalid$/],
    [{ command: 'jog', x: 1, speed: '1000\nM112' }, /^speed is invalid$/],
    [{ command: 'jog' }, /axis/],
    [{ command: 'home', axes: ['x', 'e'] }, /^axis is invalid$/],
    [{ command: 'home', axes: 'x' }, /^axis is invalid$/],
    [{ command: 'feedrate', factor: 0 }, /^factor is invalid$/],
    [{ command: 'feedrate', factor: '100' }, /^factor is invalid$/],
  ];
  const mark = sim().executed.length;
  for (const [body, re] of bad) assertOctoError(await s.octo(PRINTER, 'api/printer/printhead', { body }), 400, JSON.stringify(body), re);
  assert.deepEqual(sentSince(mark), [], 'nothing sent for bad input');
  assertOctoError(await s.octo(PRINTER, 'api/printer/printhead', { key: s.keys.viewer, body: { command: 'home', axes: ['x'] } }), 403, 'viewer');
});

test('"Issue a tool command": target, select, extrude, flowrate, offset; "Retrieve the current tool state"', async () => {
  await sends('api/printer/tool', { command: 'target', targets: { tool0: 220 } }, ['M104 S220']);
  await s.stack.until(async () => (await target('api/printer/tool', 'tool0')) === 220, 10_000, 'tool0 target 220');
  const t = await s.octo(PRINTER, 'api/printer/tool');
  assert.equal(t.status, 200, t.text);
  assert.deepEqual(Object.keys(t.json), ['tool0'], 'tools only');
  assertShape(t.json.tool0, { actual: 'number', target: 'number', offset: 'number' }, 'tool0');
  const h = await s.octo(PRINTER, 'api/printer/tool?history=true&limit=1');
  const history = h.json.history as unknown as Array<Record<string, unknown>>;
  assert.ok(Array.isArray(history) && history.length === 1, h.text);
  assert.equal(typeof history[0]!.time, 'number');
  assert.ok('tool0' in history[0]! && !('bed' in history[0]!), h.text);
  await sends('api/printer/tool', { command: 'target', targets: { tool0: 0 } }, ['M104 S0']);
  await sends('api/printer/tool', { command: 'target', targets: { tool: 185.5 } }, ['M104 S185.5']);
  await sends('api/printer/tool', { command: 'target', targets: { tool0: 0 } }, ['M104 S0']);
  await sends('api/printer/tool', { command: 'select', tool: 'tool1' }, ['T1']);
  await sends('api/printer/tool', { command: 'select', tool: 'tool0' }, ['T0']);
  await sends('api/printer/tool', { command: 'extrude', amount: 5 }, ['G91', 'M83', 'G1 E5 F300', 'M82', 'G90']);
  await sends('api/printer/tool', { command: 'extrude', amount: -2.5, speed: 100 }, ['G91', 'M83', 'G1 E-2.5 F100', 'M82', 'G90']);
  await sends('api/printer/tool', { command: 'extrude', amount: 1, speed: 9000 }, ['G91', 'M83', 'G1 E1 F300', 'M82', 'G90']);
  await sends('api/printer/tool', { command: 'flowrate', factor: 95 }, ['M221 S95']);
  await sends('api/printer/tool', { command: 'flowrate', factor: 1.05 }, ['M221 S105']);
  await sendsNothing('api/printer/tool', { command: 'offset', offsets: { tool0: 0 } });

  const bad: Array<[unknown, RegExp]> = [
    [{ command: 'melt' }, /^command is invalid$/],
    [{ command: 'target' }, /^Mandatory parameters missing$/],
    [{ command: 'target', targets: { nozzle: 200 } }, /^targets contains invalid tool$/],
    [{ command: 'target', targets: { tool0: 'hot' } }, /^targets contains invalid value$/],
    [{ command: 'target', targets: { tool0: -5 } }, /^targets contains invalid value$/],
    [{ command: 'select', tool: 'left' }, /^tool is invalid$/],
    [{ command: 'select', tool: 'tool1; M112' }, /^tool is invalid$/],
    [{ command: 'extrude', amount: 'lots' }, /^amount is invalid$/],
    [{ command: 'extrude', amount: 5, speed: 'F1 M112' }, /^speed is invalid$/],
    [{ command: 'flowrate', factor: -1 }, /^factor is invalid$/],
    [{ command: 'offset', offsets: { bed: 5 } }, /^offsets contains invalid tool$/],
    [{ command: 'offset', offsets: { tool0: 60 } }, /^offsets contains invalid value$/],
    [{ command: 'offset', offsets: { tool0: 5 } }, /offsets/],
  ];
  const mark = sim().executed.length;
  for (const [body, re] of bad) assertOctoError(await s.octo(PRINTER, 'api/printer/tool', { body }), 400, JSON.stringify(body), re);
  assert.deepEqual(sentSince(mark), [], 'nothing sent for bad input');
  assertOctoError(await s.octo(PRINTER, 'api/printer/tool', { key: s.keys.viewer, body: { command: 'select', tool: 'tool0' } }), 403, 'viewer');
  assert.equal((await s.octo(PRINTER, 'api/printer/tool', { key: s.keys.viewer })).status, 200, 'viewer reads');
});

test('"Issue a bed command" and "Retrieve the current bed state"', async () => {
  await sends('api/printer/bed', { command: 'target', target: 60 }, ['M140 S60']);
  await s.stack.until(async () => (await target('api/printer/bed', 'bed')) === 60, 10_000, 'bed target 60');
  const b = await s.octo(PRINTER, 'api/printer/bed?history=true');
  assert.deepEqual(Object.keys(b.json).sort(), ['bed', 'history']);
  assertShape(b.json.bed, { actual: 'number', target: 'number', offset: 'number' }, 'bed');
  assert.ok(!('tool0' in (b.json.history as unknown as Array<Record<string, unknown>>)[0]!), b.text);
  await sends('api/printer/bed', { command: 'target', target: 0 }, ['M140 S0']);
  await sendsNothing('api/printer/bed', { command: 'offset', offset: 0 });
  const bad: Array<[unknown, RegExp]> = [
    [{ command: 'bake' }, /^command is invalid$/],
    [{ command: 'target' }, /^Mandatory parameters missing$/],
    [{ command: 'target', target: 'warm' }, /^target is invalid$/],
    [{ command: 'target', target: -1 }, /^target is invalid$/],
    [{ command: 'offset', offset: 51 }, /^offset is invalid$/],
    [{ command: 'offset', offset: 5 }, /offset/],
  ];
  for (const [body, re] of bad) assertOctoError(await s.octo(PRINTER, 'api/printer/bed', { body }), 400, JSON.stringify(body), re);
});

test('"Issue a chamber command": 409 without a heated chamber; M141 with one', async () => {
  assertOctoError(await s.octo(PRINTER, 'api/printer/chamber'), 409, 'GET chamber', /^Printer does not have a heated chamber$/);
  assertOctoError(await s.octo(PRINTER, 'api/printer/chamber', { body: { command: 'target', target: 40 } }), 409, 'POST chamber', /^Printer does not have a heated chamber$/);
  sim().opts.chamber = true; // the board now reports C: (Marlin's HEATED_CHAMBER)
  try {
    await s.stack.until(async () => (await s.octo(PRINTER, 'api/printer/chamber')).status === 200, 15_000, 'chamber reported');
    await sends('api/printer/chamber', { command: 'target', target: 40 }, ['M141 S40']);
    await s.stack.until(async () => (await target('api/printer/chamber', 'chamber')) === 40, 10_000, 'chamber target 40');
    assert.deepEqual(Object.keys((await s.octo(PRINTER, 'api/printer/chamber')).json), ['chamber']);
    assert.ok('chamber' in ((await s.octo(PRINTER, 'api/printer')).json.temperature as object), 'GET /api/printer shows it');
    await sends('api/printer/chamber', { command: 'target', target: 0 }, ['M141 S0']);
    assertOctoError(await s.octo(PRINTER, 'api/printer/chamber', { body: { command: 'target', target: true } }), 400, 'boolean target', /^target is invalid$/);
  } finally { sim().opts.chamber = false; }
});

test('"SD card operations": SD support is disabled (404), as OctoPrint without feature.sdSupport', async () => {
  assertOctoError(await s.octo(PRINTER, 'api/printer/sd'), 404, 'GET sd', /^SD support is disabled$/);
  assertOctoError(await s.octo(PRINTER, 'api/printer/sd', { body: { command: 'init' } }), 404, 'POST sd', /^SD support is disabled$/);
  assertOctoError(await s.octo(PRINTER, 'api/printer/sd', { key: s.keys.viewer, body: { command: 'init' } }), 403, 'viewer POST sd');
});

test('"System": no commands offered; unknown sources and actions 404, dividers 400', async () => {
  const key = s.keys.viewer; // system.read
  const all = await s.octo(PRINTER, 'api/system/commands', { key });
  assert.equal(all.status, 200, all.text);
  assert.deepEqual(all.json, { core: [], plugin: [], custom: [] });
  for (const source of ['core', 'plugin', 'custom']) assert.deepEqual((await s.octo(PRINTER, `api/system/commands/${source}`, { key })).json, []);
  assertOctoError(await s.octo(PRINTER, 'api/system/commands/other', { key }), 404, 'unknown source');
  assertOctoError(await s.octo(PRINTER, 'api/system/commands/core/shutdown', { key, body: {} }), 404, 'shutdown', /no system commands/);
  assertOctoError(await s.octo(PRINTER, 'api/system/commands/core/reboot', { key, body: {} }), 404, 'reboot');
  assertOctoError(await s.octo(PRINTER, 'api/system/commands/custom/divider', { key, body: {} }), 400, 'divider', /^Dividers cannot be executed$/);
  assertOctoError(await s.octo(PRINTER, 'api/system/commands'), 403, 'api key without system.read', /Missing permission/);
});

test('while printing: jog, home and extrude are 409, feedrate and targets reach the printer', { timeout: 60_000 }, async () => {
  await s.stack.printUntil(PRINTER, 'long.gcode', 20);
  try {
    assertOctoError(await s.octo(PRINTER, 'api/printer/printhead', { body: { command: 'jog', x: 1 } }), 409, 'jog', /^Printer is not operational or currently printing$/);
    assertOctoError(await s.octo(PRINTER, 'api/printer/printhead', { body: { command: 'home', axes: ['x'] } }), 409, 'home', /currently printing/);
    assertOctoError(await s.octo(PRINTER, 'api/printer/tool', { body: { command: 'extrude', amount: 5 } }), 409, 'extrude', /^Printer is currently printing$/);
    const mark = sim().executed.length;
    assert.equal((await s.octo(PRINTER, 'api/printer/printhead', { body: { command: 'feedrate', factor: 120 } })).status, 204);
    assert.equal((await s.octo(PRINTER, 'api/printer/tool', { body: { command: 'flowrate', factor: 98 } })).status, 204);
    assert.equal((await s.octo(PRINTER, 'api/printer/bed', { body: { command: 'target', target: 0 } })).status, 204);
    await s.stack.until(() => ['M220 S120', 'M221 S98', 'M140 S0'].every((c) => sim().executed.slice(mark).includes(c)), 10_000, 'M220/M221/M140 during the print');
    assert.equal((await s.stack.client.call('jobs.get', { printerId: PRINTER })).state, 'printing', 'the print runs on');
  } finally {
    await s.stack.client.call('jobs.cancel', { printerId: PRINTER });
    await s.stack.untilState(PRINTER, 'idle');
  }
});

test('not operational: every printer operation is 409 until the printer is reset', { timeout: 90_000 }, async () => {
  assert.equal((await s.octo(PRINTER, 'api/printer/command', { body: { command: 'M112' } })).status, 204);
  await s.stack.untilState(PRINTER, 'error');
  const calls: Array<[string, unknown, RegExp]> = [
    ['api/printer/printhead', { command: 'jog', x: 1 }, /^Printer is not operational or currently printing$/],
    ['api/printer/printhead', { command: 'feedrate', factor: 100 }, /not operational/],
    ['api/printer/tool', { command: 'target', targets: { tool0: 200 } }, /^Printer is not operational$/],
    ['api/printer/tool', undefined, /^Printer is not operational$/],
    ['api/printer/bed', { command: 'target', target: 50 }, /^Printer is not operational$/],
    ['api/printer/bed', undefined, /^Printer is not operational$/],
    ['api/printer/chamber', undefined, /^Printer is not operational$/],
  ];
  for (const [path, body, re] of calls) assertOctoError(await s.octo(PRINTER, path, body === undefined ? {} : { body }), 409, `${path} ${JSON.stringify(body)}`, re);
  assertOctoError(await s.octo(PRINTER, 'api/printer/sd'), 404, 'sd stays 404');
  assert.equal((await s.octo(PRINTER, 'api/connection', { body: { command: 'connect' } })).status, 204);
  await s.stack.untilState(PRINTER, 'idle', 40_000);
  await sends('api/printer/printhead', { command: 'home', axes: [] }, ['G91', 'G28', 'G90']);
});
