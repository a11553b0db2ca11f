/**
 * Line numbering resets the host did or did not make, over a real pty to the virtual Marlin: an M110 in
 * the file (Marlin resets its expected line number) and a board reset hidden by line noise in front of
 * `start` (the firmware then asks for line 1). Old lines (G28, the start G-code) must never be replayed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRig, gcodeLines, type Rig } from '../helpers/virtual-printer.ts';

async function idle(rig: Rig) {
  const p = await rig.waitFor(() => rig.manager.list().find((x) => x.state === 'idle'), 10_000, 'printer idle');
  return rig.manager.get(p.id);
}

test('M110 N0 in a file renumbers the lines after it; nothing is replayed and every line runs once', { timeout: 30_000 }, async () => {
  const rig = await createRig({ baud: 115_200, latencyMs: 2 });
  try {
    const printer = await idle(rig);
    const moves = gcodeLines(300);
    const file = ['G28', ...moves.slice(0, 150), 'M110 N0', ...moves.slice(150)];
    await rig.files.save('m110.gcode', file.join('\n') + '\n');
    const cut = rig.vp.sim.executed.length;
    await printer.start('m110.gcode');
    const job = await rig.jobEnd(printer.id, 15_000);
    assert.equal(job.state, 'done');
    assert.deepEqual(rig.vp.sim.executed.slice(cut).filter((c) => !c.startsWith('M105')), file);
  } finally { await rig.close(); }
});

test('M110 N0 typed in the terminal mid-print: the job goes on without replaying anything', { timeout: 30_000 }, async () => {
  const rig = await createRig({ baud: 115_200, latencyMs: 2, processMs: 1 });
  try {
    const printer = await idle(rig);
    const file = ['G28', ...gcodeLines(600)];
    await rig.files.save('t110.gcode', file.join('\n') + '\n');
    const cut = rig.vp.sim.executed.length;
    await printer.start('t110.gcode');
    await rig.waitFor(() => (printer.job?.lines_sent ?? 0) > 100, 10_000, 'progress');
    printer.command('M110 N0');
    const job = await rig.jobEnd(printer.id, 20_000);
    assert.equal(job.state, 'done');
    assert.deepEqual(rig.vp.sim.executed.slice(cut).filter((c) => !/^M10[5]|^M110/.test(c)), file);
  } finally { await rig.close(); }
});

test('a board reset hidden by noise before `start`: the request for line 1 stops the job with a clear error, nothing replayed', { timeout: 30_000 }, async () => {
  const rig = await createRig({ baud: 115_200, latencyMs: 2, processMs: 1 });
  try {
    const printer = await idle(rig);
    const file = ['G28', ...gcodeLines(800)];
    await rig.files.save('hidden.gcode', file.join('\n') + '\n');
    await printer.start('hidden.gcode');
    await rig.waitFor(() => (printer.job?.lines_sent ?? 0) > 100, 10_000, 'progress');
    const cut = rig.vp.sim.executed.length;
    rig.vp.sim.reset({ garbage: '\u00fe\u0000' });
    const job = await rig.jobEnd(printer.id, 15_000);
    assert.equal(job.state, 'failed');
    assert.equal(job.reason, 'line-numbering');
    assert.equal(printer.state, 'error');
    assert.match(printer.error ?? '', /line 1\b.*already confirmed/);
    const after = rig.vp.sim.executed.slice(cut);
    assert.ok(!after.includes('G28') && !after.includes('M115'), `nothing replayed: ${after.slice(0, 5).join(' | ')}`);
  } finally { await rig.close(); }
});
