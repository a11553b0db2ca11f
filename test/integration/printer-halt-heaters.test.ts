/**
 * Halts and heaters, over a real pty to the virtual Marlin: after an emergency stop or a fatal firmware
 * error PrintBox sends heater-off commands (a firmware that still listens obeys them); M112 goes out raw
 * and numbered; a probing failure is reported but does not stop the print.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRig, gcodeLines, type Rig } from '../helpers/virtual-printer.ts';

const HEATED = ['M140 S60', 'M104 S200', ...gcodeLines(4000)];

async function printing(rig: Rig) {
  const p = await rig.waitFor(() => rig.manager.list().find((x) => x.state === 'idle'), 10_000, 'printer idle');
  const printer = rig.manager.get(p.id);
  await rig.files.save('hot.gcode', HEATED.join('\n') + '\n');
  await printer.start('hot.gcode');
  await rig.waitFor(() => (printer.job?.lines_sent ?? 0) > 200, 10_000, 'progress');
  return printer;
}

const sentLines = (rig: Rig, from: number) => rig.vp.sim.wire.slice(from).split('\n');

test('emergency stop: M112 raw and numbered, then every heater off', { timeout: 30_000 }, async () => {
  const rig = await createRig({ baud: 115_200, latencyMs: 2 });
  try {
    const printer = await printing(rig);
    const cut = rig.vp.sim.wire.length;
    printer.emergencyStop();
    await new Promise((r) => setTimeout(r, 300));
    const all = sentLines(rig, cut);
    // Lines written just before the stop may still have been on their way through the pty at `cut`.
    const sent = all.slice(all.indexOf('M112'));
    assert.equal(sent[0], 'M112', `raw M112: ${all.join(' | ')}`);
    assert.match(sent[1] ?? '', /^N\d+ M112\*\d+$/, 'then as a numbered line');
    assert.ok(sent.some((l) => /^M104 (T0 )?S0$/.test(l)), `hotend off: ${sent.join(' | ')}`);
    assert.ok(sent.includes('M140 S0'), 'bed off');
    assert.ok(!sent.some((l) => /^N\d+ G1 /.test(l)), 'no job line after the stop');
    assert.equal(printer.job?.state, 'failed');
  } finally { await rig.close(); }
});

test('a fatal firmware error (thermal runaway) mid-print: the job fails and the heaters are switched off', { timeout: 30_000 }, async () => {
  const rig = await createRig({ baud: 115_200, latencyMs: 2 });
  try {
    const printer = await printing(rig);
    const cut = rig.vp.sim.wire.length;
    rig.vp.sim.halt();
    await rig.waitFor(() => printer.state === 'error', 5000, 'error state');
    await new Promise((r) => setTimeout(r, 300));
    const sent = sentLines(rig, cut);
    assert.ok(sent.some((l) => /^M104 (T0 )?S0$/.test(l)), `hotend off: ${sent.slice(-6).join(' | ')}`);
    assert.ok(sent.includes('M140 S0'), 'bed off');
    assert.equal(printer.job?.state, 'failed');
    assert.equal(printer.job.reason, 'firmware-error');
  } finally { await rig.close(); }
});

test('Error:Probing Failed is reported, not a halt: the print goes on to the end', { timeout: 30_000 }, async () => {
  const rig = await createRig({ baud: 115_200, latencyMs: 2 });
  try {
    const printer = await printing(rig);
    rig.vp.sim.say('Error:Probing Failed');
    const job = await rig.jobEnd(printer.id, 20_000);
    assert.equal(job.state, 'done');
    assert.notEqual(printer.state, 'error');
    assert.ok(rig.events.some((e) => e.event === 'log' && e.data.line === 'Error:Probing Failed'), 'shown in the terminal');
  } finally { await rig.close(); }
});
