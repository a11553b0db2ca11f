/**
 * Host action commands and firmware prompts end to end: HTTPS → web → printer.sock → printer service →
 * pty → virtual Marlin with HOST_ACTION_COMMANDS / HOST_PROMPT_SUPPORT (virtual/host-actions-sim.ts).
 * Every prompt type is shown (GET /api/printers/:id, SSE `prompt`), answered through
 * POST /api/printers/:id/prompt, reaches the firmware as M876 S<n> (M108 without prompt support), and
 * the job resumes and completes with every line run once, in order. Malformed `//action:` lines, stale
 * and out-of-range answers are clear errors that leave the print alone; the history keeps the prompts.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import tls from 'node:tls';
import { after, before, test } from 'node:test';
import type { HistoryEntry, HostPrompt, PrinterInfo } from '../../services/shared/ipc.ts';
import { startPrinterStack, type PrinterStack } from '../helpers/printer-stack.ts';
import { gcodeLines } from '../helpers/virtual-printer.ts';
import { openPush } from '../helpers/push-socket.ts';
import { request, type WebServer } from '../helpers/web.ts';

const BASE = gcodeLines(400);
const withAt = (at: number, cmd: string) => [...BASE.slice(0, at), cmd, ...BASE.slice(at)];
const LONG = gcodeLines(3000);
const FULL = { baud: 250_000, latencyMs: 2, record: true, hostActions: true, promptSupport: true, keepaliveMs: 200 };

let stack: PrinterStack;
const events: Array<{ event: string; data: Record<string, unknown> }> = [];
let unsubscribe: () => void = () => undefined;

before(async () => {
  stack = await startPrinterStack({
    tag: 'prompts', web: true,
    printers: {
      'vp-full': FULL,
      // a Marlin without HOST_PROMPT_SUPPORT: M0 only says "paused for user"
      'vp-plain': { baud: 250_000, latencyMs: 2, record: true, keepaliveMs: 200 },
    },
    files: {
      'm600.gcode': withAt(200, 'M600').join('\n'),
      'm0.gcode': withAt(150, 'M0 Insert the magnets').join('\n'),
      'long.gcode': LONG.join('\n'),
    },
  });
  unsubscribe = stack.client.subscribe('events.subscribe', (ev) => events.push(ev as (typeof events)[number]));
  await stack.untilState('vp-full', 'idle');
  await stack.untilState('vp-plain', 'idle');
});

after(async () => { unsubscribe(); await stack?.close(); });

const info = (id: string): Promise<PrinterInfo> => stack.client.call('printers.get', { id });
/** Waits for an open prompt whose text matches. */
const promptOf = (id: string, text: RegExp): Promise<HostPrompt> =>
  stack.until(async () => { const p = (await info(id)).prompt; return p && text.test(p.text) && p; }, 20_000, `${id}: prompt ${text}`);
const answer = (id: string, prompt: number, choice: unknown) => stack.call('POST', `/api/printers/${id}/prompt`, { prompt, choice });
/** The job's G1 X… lines the firmware ran since `cut`: each file line once, in order. */
const jobMoves = (id: string, cut: number) => stack.vps[id]!.sim.executed.slice(cut).filter((c) => c.startsWith('G1 X'));
const done = async (id: string) => {
  const job = await stack.until(async () => { const j = await stack.client.call('jobs.get', { printerId: id }); return j.state !== 'printing' && j.state !== 'paused' && j; }, 40_000, `${id}: job end`);
  assert.equal(job.state, 'done', `${id}: the job completed`);
  return job;
};

test('M115 reports Cap:HOST_ACTION_COMMANDS and Cap:PROMPT_SUPPORT: the host answers M876 P1', async () => {
  const p = await info('vp-full');
  assert.equal(p.capabilities?.HOST_ACTION_COMMANDS, true);
  assert.equal(p.capabilities?.PROMPT_SUPPORT, true);
  assert.ok(stack.vps['vp-full']!.sim.executed.includes('M876 P1'), 'prompt support signalled');
  assert.equal(stack.vps['vp-full']!.sim.host.hostPromptSupport, true);
  assert.ok(!stack.vps['vp-plain']!.sim.executed.includes('M876 P1'), 'not to a firmware without prompts');
});

test('M600 filament change: paused by the firmware (no host park), Nozzle Parked → M876 S0, Purge More, Continue → resumes and completes', { timeout: 60_000 }, async () => {
  const vp = stack.vps['vp-full']!;
  const cut = vp.sim.executed.length;
  await stack.client.call('jobs.start', { printerId: 'vp-full', file: 'm600.gcode' });
  const parked = await promptOf('vp-full', /^Nozzle Parked$/);
  assert.deepEqual(parked.choices, ['Continue']);
  assert.equal(parked.source, 'firmware');
  const job = await stack.client.call('jobs.get', { printerId: 'vp-full' });
  assert.equal(job.state, 'paused');
  assert.equal(job.reason, 'firmware', '//action:paused pauses the job the firmware\'s way');
  assert.ok(!vp.sim.executed.slice(cut).includes('G1 Z10 F600'), 'no second park from the host');
  // the dialog is pushed too
  await stack.until(() => events.some((e) => e.event === 'prompt' && (e.data.prompt as HostPrompt | null)?.text === 'Nozzle Parked'), 5000, 'prompt event');
  // resuming by hand while the firmware asks is refused: the answer resumes it
  const early = await stack.call('POST', '/api/printers/vp-full/job/resume');
  assert.equal(early.status, 409);
  assert.equal(early.json?.error?.code, 'prompt_open');

  const r = await answer('vp-full', parked.id, 0);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json?.sent, 'M876 S0');
  await stack.until(() => /(^|\n)M876 S0\n/.test(vp.sim.wire), 5000, 'M876 S0 sent unnumbered, past the queue (emergency parser)');

  const purge = await promptOf('vp-full', /^Paused$/);
  assert.deepEqual(purge.choices, ['PurgeMore', 'Continue']);
  // a stale answer (the Nozzle Parked prompt is closed): 409, nothing sent
  const answers = vp.sim.host.answers.length;
  const stale = await answer('vp-full', parked.id, 0);
  assert.equal(stale.status, 409);
  assert.equal(stale.json?.error?.code, 'prompt_closed');
  assert.match(stale.json?.error?.message ?? '', /no longer open/);
  // a choice it does not offer: 400
  for (const bad of [2, -1, 1.5, '1']) {
    const r2 = await answer('vp-full', purge.id, bad);
    assert.equal(r2.status, 400, `choice ${JSON.stringify(bad)}`);
    assert.equal(r2.json?.error?.code, 'bad_choice');
  }
  assert.equal(vp.sim.host.answers.length, answers, 'refused answers never reach the firmware');
  assert.equal((await stack.client.call('jobs.get', { printerId: 'vp-full' })).state, 'paused', 'the print is undisturbed');

  assert.equal((await answer('vp-full', purge.id, 0)).status, 200); // Purge More: the firmware asks again
  const again = await stack.until(async () => { const p = (await info('vp-full')).prompt; return p && p.id > purge.id && p; }, 10_000, 'the purge prompt again');
  assert.equal(again.text, 'Paused');
  assert.equal((await answer('vp-full', again.id, 1)).json?.sent, 'M876 S1');
  await stack.until(() => vp.sim.host.answers.length >= answers + 2, 5000, 'the firmware got both answers');
  assert.deepEqual(vp.sim.host.answers.slice(-3), [0, 0, 1]);

  const finished = await done('vp-full');
  assert.equal((await info('vp-full')).prompt, undefined, 'the dialog closed');
  assert.deepEqual(jobMoves('vp-full', cut), BASE, 'every line once, in order, across the firmware pause');
  assert.ok(!stack.printer.lines.some((l) => /no answer from firmware/.test(l)), 'every answer acknowledged: no stall (M600 was sent alone)');
  const [entry] = (await stack.call('GET', '/api/jobs?limit=1')).json as unknown as HistoryEntry[];
  assert.equal(entry!.id, finished.id);
  const kinds = entry!.events!.map((e) => `${e.kind}:${e.text}`);
  for (const k of ['action:paused', 'prompt:Nozzle Parked', 'answer:Continue', 'prompt:Paused', 'answer:PurgeMore', 'answer:Continue', 'action:resumed']) {
    assert.ok(kinds.includes(k), `history has ${k}: ${kinds.join(', ')}`);
  }
});

test('M0 with prompt support: the firmware\'s text and button, answered with M876', { timeout: 60_000 }, async () => {
  const vp = stack.vps['vp-full']!;
  const cut = vp.sim.executed.length;
  await stack.client.call('jobs.start', { printerId: 'vp-full', file: 'm0.gcode' });
  const p = await promptOf('vp-full', /^Insert the magnets$/);
  assert.deepEqual(p.choices, ['Continue']);
  assert.equal((await answer('vp-full', p.id, 0)).json?.sent, 'M876 S0');
  await done('vp-full');
  assert.deepEqual(jobMoves('vp-full', cut), BASE);
});

test('M0 without prompt support: "paused for user" shows a Continue dialog that sends M108', { timeout: 60_000 }, async () => {
  const vp = stack.vps['vp-plain']!;
  const cut = vp.sim.executed.length;
  await stack.client.call('jobs.start', { printerId: 'vp-plain', file: 'm0.gcode' });
  const p = await promptOf('vp-plain', /waiting for you/);
  assert.equal(p.source, 'wait');
  assert.deepEqual(p.choices, ['Continue']);
  const r = await answer('vp-plain', p.id, 0);
  assert.equal(r.json?.sent, 'M108');
  assert.equal((await info('vp-plain')).prompt, undefined, 'closed at once');
  await done('vp-plain');
  assert.deepEqual(jobMoves('vp-plain', cut), BASE);
  assert.ok(!vp.sim.wire.includes('M876'), 'no M876 to a firmware without prompts');
  // the firmware has moved on: a late answer to that prompt is stale
  assert.equal((await answer('vp-plain', p.id, 0)).status, 409);
});

test('pause from the printer\'s menu (M25: //action:pause + "Pause SD"): the host parks; Resume → //action:resume → un-park, completes', { timeout: 60_000 }, async () => {
  const vp = stack.vps['vp-full']!;
  const cut = vp.sim.executed.length;
  await stack.printUntil('vp-full', 'long.gcode', 300);
  vp.sim.host.menuPause();
  const p = await promptOf('vp-full', /^Pause SD$/);
  assert.deepEqual(p.choices, ['Resume']);
  const paused = await stack.until(async () => { const j = await stack.client.call('jobs.get', { printerId: 'vp-full' }); return j.state === 'paused' && j.parked && j; }, 20_000, 'parked');
  assert.equal(paused.reason, 'user');
  assert.equal(vp.sim.executed.slice(cut).filter((c) => c === 'G1 Z10 F600').length, 1, 'parked once, by the host');
  assert.equal((await answer('vp-full', p.id, 0)).json?.sent, 'M876 S0');
  await done('vp-full');
  assert.ok(vp.sim.executed.slice(cut).includes('G1 Z-10 F600'), 'un-parked');
  assert.deepEqual(jobMoves('vp-full', cut), LONG);
});

test('cancel from the printer\'s menu (//action:cancel) cancels the job', { timeout: 60_000 }, async (t) => {
  const vp = stack.vps['vp-full']!;
  await stack.printUntil('vp-full', 'long.gcode', 200);
  // a slow planner (50 ms a move), as under load: the firmware still holds moves when the host goes idle
  const processMs = vp.sim.opts.processMs;
  vp.sim.opts.processMs = 50;
  try {
    vp.sim.host.menuCancel();
    const job = await stack.until(async () => { const j = await stack.client.call('jobs.get', { printerId: 'vp-full' }); return j.state === 'cancelled' && j; }, 10_000, 'cancelled');
    assert.ok(job.events?.some((e) => e.kind === 'action' && e.text === 'cancel'));
    await stack.untilState('vp-full', 'idle');
    // the moves the firmware had buffered still run after the host went idle; the next test counts from here
    const atIdle = vp.sim.executed.length;
    await stack.drained('vp-full');
    t.diagnostic(`${vp.sim.executed.length - atIdle - 1} buffered commands ran after the host went idle`);
  } finally {
    // the later tests run at the firmware's usual speed even when this one fails
    vp.sim.opts.processMs = processMs;
  }
});

test('notifications are pushed and recorded; malformed //action: lines are ignored without disturbing the print', { timeout: 60_000 }, async () => {
  const vp = stack.vps['vp-full']!;
  const cut = vp.sim.executed.length;
  await stack.printUntil('vp-full', 'long.gcode', 200);
  vp.sim.host.notify('Layer 3 of 40');
  for (const bad of ['//action:', '//action:pa!use', '//action:pause now', '//action:prompt_button', '//action:resume\u0001', `//action:notification ${'x'.repeat(300)}`]) vp.sim.say(bad);
  vp.sim.say('//action:prompt_show'); // no prompt_begin: nothing to show
  await stack.until(() => events.some((e) => e.event === 'notification' && e.data.text === 'Layer 3 of 40'), 5000, 'notification event');
  const job = await done('vp-full');
  assert.deepEqual(jobMoves('vp-full', cut), LONG, 'printed straight through');
  assert.deepEqual(job.events?.filter((e) => e.kind !== 'notification'), [], 'no pause, no prompt from the malformed lines');
  assert.equal(job.events?.find((e) => e.kind === 'notification')?.text, 'Layer 3 of 40');
  assert.equal((await info('vp-full')).prompt, undefined);
  await stack.printer.waitFor(/malformed host action command ignored/, 5000);
});

test('a board reset during a firmware pause: the prompt closes, resume recovers safely (reset-while-parking) and M600 asks again', { timeout: 60_000 }, async () => {
  const vp = stack.vps['vp-full']!;
  await stack.client.call('jobs.start', { printerId: 'vp-full', file: 'm600.gcode' });
  await promptOf('vp-full', /^Nozzle Parked$/);
  const reset = await stack.client.call('printers.reconnect', { id: 'vp-full' }, 30_000); // reopening the port resets the board
  assert.equal(reset.state, 'paused');
  assert.equal(reset.prompt, undefined, 'what the reset board asked is gone');
  assert.equal(reset.job?.reason, 'reset-while-parking', 'the firmware\'s park height is unknown: resume assumes the print height');
  const cut = vp.sim.executed.length;
  await stack.client.call('jobs.resume', { printerId: 'vp-full' }, 30_000);
  assert.ok(vp.sim.executed.slice(cut).includes('G28 X Y'), 'recovered: X/Y homed again');
  const again = await promptOf('vp-full', /^Nozzle Parked$/); // the unacknowledged M600 runs again
  await answer('vp-full', again.id, 0);
  await answer('vp-full', (await promptOf('vp-full', /^Paused$/)).id, 1);
  await done('vp-full');
});

test('OctoPrint push API: plugin messages as action_command_prompt / _notification send them, and PrinterStateChanged', { timeout: 60_000 }, async () => {
  const web = stack.web!;
  const key = ((await stack.call('POST', '/api/apikeys', { name: 'push-prompts', role: 'api' })).json as { key: string }).key;
  const login = await request(web, { method: 'POST', path: '/octoprint/vp-full/api/login', headers: { 'X-Api-Key': key }, body: { passive: true } });
  assert.equal(login.status, 200, login.text);
  const sock = await openPush(web, 'vp-full');
  try {
    sock.send({ auth: `${String(login.json?.name)}:${String(login.json?.session)}` });
    await sock.next('history');
    await stack.client.call('jobs.start', { printerId: 'vp-full', file: 'm600.gcode' });
    const show = await sock.next('plugin', (m) => m.plugin === 'action_command_prompt' && m.data.text === 'Nozzle Parked');
    assert.deepEqual(show.data, { action: 'show', text: 'Nozzle Parked', choices: ['Continue'] });
    await sock.next('event', (e) => e.type === 'PrinterStateChanged' && e.payload.state_id === 'PAUSED');
    await sock.next('event', (e) => e.type === 'PrintPaused');
    const parked = await promptOf('vp-full', /^Nozzle Parked$/);
    await answer('vp-full', parked.id, 0);
    await sock.next('plugin', (m) => m.plugin === 'action_command_prompt' && m.data.action === 'close');
    const purge = await promptOf('vp-full', /^Paused$/);
    await answer('vp-full', purge.id, 1);
    await sock.next('event', (e) => e.type === 'PrintResumed');
    await done('vp-full');
    stack.vps['vp-full']!.sim.host.notify('Filament loaded');
    const note = await sock.next('plugin', (m) => m.plugin === 'action_command_notification');
    assert.deepEqual(note.data, { message: 'Filament loaded' });
  } finally { sock.ws.close(); }
});

test('SSE carries prompt events; //action:disconnect closes the port cleanly, and a reconnect comes back', { timeout: 60_000 }, async () => {
  const vp = stack.vps['vp-full']!;
  const seen = sse(stack.web!, /event: prompt\ndata: \{"id":"vp-full","prompt":\{[^\n]*"Are you sure\?"/);
  await new Promise((r) => setTimeout(r, 300));
  vp.sim.say('//action:prompt_begin Are you sure?');
  vp.sim.say('//action:prompt_button Yes');
  vp.sim.say('//action:prompt_button No');
  vp.sim.say('//action:prompt_show');
  await seen;
  const p = await promptOf('vp-full', /Are you sure/);
  vp.sim.say('//action:prompt_end');
  await stack.until(async () => !(await info('vp-full')).prompt, 5000, 'closed by the firmware');
  assert.equal((await answer('vp-full', p.id, 0)).status, 409, 'a prompt the firmware closed cannot be answered');

  vp.sim.say('//action:disconnect');
  await stack.untilState('vp-full', 'disconnected');
  const r = await stack.client.call('printers.reconnect', { id: 'vp-full' }, 30_000);
  assert.equal(r.state, 'idle');
});

/** Reads the SSE stream (device-local, no sign-in) until `until` matches. */
function sse(web: WebServer, until: RegExp, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const req = https.get({
      host: '127.0.0.1', port: web.httpsPort, path: '/api/events', localAddress: '127.0.0.1', ca: web.ca, agent: false,
      headers: { Host: `127.0.0.1:${web.httpsPort}`, Accept: 'text/event-stream' },
      servername: '', checkServerIdentity: (_h, cert) => tls.checkServerIdentity('127.0.0.1', cert),
    }, (res) => {
      res.on('data', (c: Buffer) => { text += c.toString(); if (until.test(text)) { clearTimeout(t); req.destroy(); resolve(text); } });
    });
    const t = setTimeout(() => { req.destroy(); reject(new Error(`SSE timeout; got:\n${text.slice(-2000)}`)); }, timeoutMs);
    req.on('error', () => undefined);
  });
}
