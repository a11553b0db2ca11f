/**
 * "Reset printer" end to end over real HTTPS → web → printer.sock → printer service → pty → virtual
 * Marlin: an emergency stop leaves the printer in `error` (the simulated firmware is halted and ignores
 * everything); POST /api/printers/:id/reconnect closes and reopens the port, which resets a CH340/AVR
 * board (the simulator honours the reopen like DTR), and the printer is `idle` and answers again.
 * Refused (409) while printing; a paused job stays paused and resumes with a recovery sequence.
 * A board that does not reset on open (native USB) honestly stays in `error`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startPrinterStack } from '../helpers/printer-stack.ts';
import { gcodeLines } from '../helpers/virtual-printer.ts';
import type { Json } from '../helpers/web.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('reconnect: emergency stop → error → reset → idle and commands work; 409 while printing; paused job survives', { timeout: 90_000 }, async () => {
  // baud 19200 keeps the 20,000-line job running for the whole test; vp-2 is a native-USB board (no reset on open).
  const stack = await startPrinterStack({
    tag: 'preconnect', baudrates: [250_000], web: true,
    files: { 'long.gcode': ['G28', 'M104 S0', ...gcodeLines(20_000)].join('\n') },
    printers: {
      'vp-1': { baud: 19_200, latencyMs: 2, record: true },
      'vp-2': { baud: 250_000, latencyMs: 2, seed: 2, resetOnOpen: false },
    },
  });
  const { call } = stack;
  const vp = stack.vps['vp-1']!;
  try {
    const stateOf = async (id: string) => (await call('GET', `/api/printers/${id}`)).json.state;
    const until = async (id: string, state: string, what: string) => {
      for (let i = 0; i < 150; i++) { if (await stateOf(id) === state) return; await sleep(100); }
      assert.fail(`${what}: ${id} never ${state} (is ${await stateOf(id)})`);
    };
    await until('vp-1', 'idle', 'startup');
    await until('vp-2', 'idle', 'startup');

    // Emergency stop: the firmware halts; the terminal no longer gets through.
    assert.equal((await call('POST', '/api/printers/vp-1/emergency-stop')).status, 200);
    await until('vp-1', 'error', 'after M112');
    const m105 = () => vp.sim.executed.filter((c) => c === 'M105').length;
    const haltedCount = m105();
    await call('POST', '/api/printers/vp-1/command', { gcode: 'M105' });
    await sleep(300);
    assert.equal(m105(), haltedCount, 'a halted firmware executes nothing');

    // Reset: back to idle, error cleared, and a command is executed again.
    const r = await call('POST', '/api/printers/vp-1/reconnect');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.state, 'idle', r.text);
    assert.equal(r.json.error, undefined);
    assert.equal(r.json.name, 'PrintBox Virtual', 'M115 probed again');
    await sleep(300);
    const before = m105();
    const cmd = await call('POST', '/api/printers/vp-1/command', { gcode: 'M105' });
    assert.equal(cmd.status, 202, cmd.text);
    for (let i = 0; i < 50 && m105() === before; i++) await sleep(50);
    assert.equal(m105(), before + 1, 'M105 executed after the reset');
    assert.equal((await call('POST', '/api/printers/nope/reconnect')).status, 404);
    assert.equal((await call('POST', '/api/printers/bad%20id/reconnect')).status, 400);

    // While printing: 409, and the print goes on.
    const start = await call('POST', '/api/printers/vp-1/job', { file: 'long.gcode' });
    assert.equal(start.status, 202, start.text);
    const busy = await call('POST', '/api/printers/vp-1/reconnect');
    assert.equal(busy.status, 409, busy.text);
    assert.equal(busy.json.error?.code, 'busy');
    assert.equal(await stateOf('vp-1'), 'printing');

    // Paused: allowed; the job stays paused and resumes with a recovery (the board forgot everything).
    const paused = await call('POST', '/api/printers/vp-1/job/pause');
    assert.equal(paused.json.state, 'paused', paused.text);
    const again = await call('POST', '/api/printers/vp-1/reconnect');
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.state, 'paused');
    const job = again.json.job as Json & { state: string; reason: string; lines_sent: number };
    assert.equal(job.state, 'paused');
    assert.equal(job.reason, 'reset-while-parked');
    const resumed = await call('POST', '/api/printers/vp-1/job/resume');
    assert.equal(resumed.status, 200, resumed.text);
    assert.equal(resumed.json.state, 'printing');
    const tail = vp.sim.executed.slice(vp.sim.executed.lastIndexOf('G28 X Y'));
    assert.ok(tail.length > 1, 'recovery homed X/Y after the reset');
    const g92 = tail.find((c) => c.startsWith('G92 '));
    assert.match(g92 ?? '', /^G92 Z10 /, 'Z set to the parked height (layer 0 + 10 mm lift)');
    assert.ok(tail.includes('G1 Z-10 F600'), 'then lowered back onto the print');
    assert.equal((await call('POST', '/api/printers/vp-1/job/cancel')).json.state, 'cancelled');

    // A board that does not reset on open stays halted: reconnect reports it instead of pretending.
    assert.equal((await call('POST', '/api/printers/vp-2/emergency-stop')).status, 200);
    await until('vp-2', 'error', 'after M112 (native USB)');
    const stuck = await call('POST', '/api/printers/vp-2/reconnect');
    assert.equal(stuck.status, 200, stuck.text);
    assert.equal(stuck.json.state, 'error');
    assert.match(String(stuck.json.error), /No printer answered/);
  } finally {
    await stack.close();
  }
});
