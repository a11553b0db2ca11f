/**
 * A paused job says whether its park is confirmed (`parked`), so a page loaded mid-pause does not claim
 * the head is parked while the moves still drain or the lift is stuck. Real pty, virtual Marlin.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startPrinterStack } from '../helpers/printer-stack.ts';
import { gcodeLines } from '../helpers/virtual-printer.ts';

test('GET job while a pause is parking: paused, parked false; once the park is confirmed: parked true', { timeout: 60_000 }, async () => {
  const lines = ['M104 S210', 'G28', 'G1 Z0.2 F600', ...gcodeLines(3000)];
  const stack = await startPrinterStack({
    tag: 'parked', printers: { 'vp-1': { baud: 115_200, latencyMs: 2, record: true } },
    files: { 'parked.gcode': lines.join('\n') },
  });
  const { client, until } = stack;
  const vp = stack.vps['vp-1']!;
  try {
    await stack.untilState('vp-1', 'idle');
    await stack.printUntil('vp-1', 'parked.gcode', 500);
    assert.equal((await client.call('jobs.get', { printerId: 'vp-1' })).parked, undefined, 'a printing job has no parked flag');
    vp.sim.stallAt((c) => c === 'G1 Z10 F600'); // the lift sticks: the park stays unconfirmed
    const pausing = client.call('jobs.pause', { printerId: 'vp-1' }, 35_000).catch((e: Error) => e);
    await until(() => vp.sim.executed.includes('G1 E-2 F2400'), 10_000, 'park under way');
    const mid = await client.call('jobs.get', { printerId: 'vp-1' });
    assert.equal(mid.state, 'paused');
    assert.equal(mid.reason, 'user');
    assert.equal(mid.parked, false, 'the park is not confirmed yet');
    void pausing; // stays pending on the stuck lift; stack.close() ends it
  } finally { await stack.close(); }
});

test('a pause that completes reports parked true', { timeout: 60_000 }, async () => {
  const lines = ['M104 S210', 'G28', 'G1 Z0.2 F600', ...gcodeLines(3000)];
  const stack = await startPrinterStack({
    tag: 'parked2', printers: { 'vp-1': { baud: 115_200, latencyMs: 2, record: true } },
    files: { 'parked.gcode': lines.join('\n') },
  });
  const { client, until } = stack;
  try {
    await stack.untilState('vp-1', 'idle');
    await stack.printUntil('vp-1', 'parked.gcode', 500);
    const paused = await client.call('jobs.pause', { printerId: 'vp-1' }, 35_000);
    assert.equal(paused.parked, true);
    assert.equal((await client.call('jobs.get', { printerId: 'vp-1' })).parked, true);
  } finally { await stack.close(); }
});
