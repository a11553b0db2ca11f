/**
 * Real ptys against the virtual Marlin: long prints under injected checksum errors, lost oks,
 * unplug mid-print with resume.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRig, gcodeLines } from '../helpers/virtual-printer.ts';

test('a 20,000-line file completes in order with correct checksums under 2% injected errors', { timeout: 120_000 }, async () => {
  const rig = await createRig({ baud: 1_000_000, latencyMs: 1, errorRate: 0.02, seed: 7 });
  try {
    const p = await rig.waitFor(() => rig.manager.list().find((x) => x.state === 'idle'), 10_000, 'printer idle');
    const lines = gcodeLines(20_000);
    await rig.files.save('big.gcode', '; header comment\n' + lines.join('\n') + '\n');
    await rig.manager.get(p.id).start('big.gcode');
    const job = await rig.jobEnd(p.id, 100_000);
    assert.equal(job.state, 'done');
    assert.equal(job.lines_sent, 20_000);
    assert.equal(job.progress, 1);
    const executed = rig.vp.sim.executed.filter((c) => c.startsWith('G1 X'));
    assert.equal(executed.length, 20_000, 'every line executed exactly once');
    assert.deepEqual(executed, lines, 'in file order');
    assert.ok(rig.vp.sim.stats.injectedErrors > 200, `errors were injected (${rig.vp.sim.stats.injectedErrors})`);
    assert.equal(rig.vp.sim.stats.overflowBytes, 0, 'the send-ahead window never overflowed the RX buffer');
    const history = await rig.store.history(5);
    assert.equal(history[0]?.state, 'done');
  } finally { await rig.close(); }
});

test('lost oks are recovered by an M105 poke after the timeout', { timeout: 60_000 }, async () => {
  const rig = await createRig({ baud: 250_000, latencyMs: 2, lostOkRate: 0.01, seed: 3 }, { okTimeoutMs: 300 });
  try {
    const p = await rig.waitFor(() => rig.manager.list().find((x) => x.state === 'idle'), 10_000, 'printer idle');
    const lines = gcodeLines(1500);
    await rig.files.save('lost.gcode', lines.join('\n'));
    await rig.manager.get(p.id).start('lost.gcode');
    const job = await rig.jobEnd(p.id, 50_000);
    assert.equal(job.state, 'done');
    assert.ok(rig.vp.sim.stats.lostOks > 3, `oks were dropped (${rig.vp.sim.stats.lostOks})`);
    assert.deepEqual(rig.vp.sim.executed.filter((c) => c.startsWith('G1 X')), lines);
    assert.ok(rig.vp.sim.executed.filter((c) => c === 'M105').length >= 1, 'poked with M105');
  } finally { await rig.close(); }
});

test('unplug mid-print pauses with a resume point; replug is detected and resume finishes the file', { timeout: 60_000 }, async () => {
  const rig = await createRig({ baud: 115_200, latencyMs: 2, seed: 5 });
  try {
    const p = await rig.waitFor(() => rig.manager.list().find((x) => x.state === 'idle'), 10_000, 'printer idle');
    const lines = ['M140 S60', 'M104 S200', 'G28', 'G1 Z0.3 F600', ...gcodeLines(3000)];
    await rig.files.save('unplug.gcode', lines.join('\n'));
    await rig.manager.get(p.id).start('unplug.gcode');
    await rig.waitFor(() => (rig.manager.get(p.id).job?.lines_sent ?? 0) > 800, 20_000, 'some progress');
    await rig.vp.unplug();
    const paused = await rig.waitFor(() => { const i = rig.manager.get(p.id).info(); return i.state === 'disconnected' && i.job?.state === 'paused' && i; }, 10_000, 'paused by disconnect');
    assert.equal(paused.job!.reason, 'disconnect');
    const stored = await rig.store.latest(p.id);
    assert.equal(stored?.state, 'paused');
    assert.ok(stored?.resume && stored.resume.index > 800, 'resume point recorded');
    assert.equal(stored.resume.hotend, 200);
    assert.equal(stored.resume.z, 0.3);
    const resumeAt = stored.resume.index;
    const before = rig.vp.sim.executed.filter((c) => c.startsWith('G1 X') && c.includes(' E')).length;

    await rig.vp.replug(); // a board reset: the simulator forgot everything
    await rig.waitFor(() => rig.manager.get(p.id).info().state === 'paused', 15_000, 'reconnected, job still paused');
    const cut = rig.vp.sim.executed.length;
    rig.vp.sim.physical.minZ = Infinity;
    await rig.manager.get(p.id).resume();
    const job = await rig.jobEnd(p.id);
    assert.equal(job.state, 'done');
    const all = rig.vp.sim.executed;
    const prelude = all.slice(cut, all.indexOf('G28 X Y', cut)).filter((c) => c !== 'M110 N0' && c !== 'M105');
    assert.deepEqual(prelude.slice(0, 2), ['G91', 'G1 Z10 F600'], 'lifted off the print before anything else (homing X/Y must not drag across it)');
    assert.ok(prelude.includes('M109 S200'), 're-heated before homing');
    assert.ok(all.slice(cut).some((c) => c.startsWith('G92 Z10.3 ')) && all.slice(cut).includes('G1 Z-10 F600'), 'recorded Z + lift restored with G92, then lowered');
    assert.ok(rig.vp.sim.physical.minZ >= 0.3 - 1e-9 && Math.abs(rig.vp.sim.physical.Z - 0.3) < 1e-9, `back at the print height, never below it (Z ${rig.vp.sim.physical.Z}, lowest ${rig.vp.sim.physical.minZ})`);
    assert.ok(all.includes(`G1 X${stored.resume.x} Y${stored.resume.y} F3000`), 'travels back to the recorded XY');
    const moves = all.filter((c) => c.startsWith('G1 X') && c.includes(' E'));
    // Everything from the resume point on was printed after the replug, in order, to the end of the file
    // (lines the firmware took but never acknowledged before the unplug are sent again: at-least-once).
    const expected = lines.slice(resumeAt).filter((c) => c.startsWith('G1 X'));
    assert.deepEqual(moves.slice(moves.length - expected.length), expected);
    assert.ok(before >= lines.slice(0, resumeAt).filter((c) => c.startsWith('G1 X')).length, 'every acknowledged line had been executed');
    assert.ok(rig.events.some((e) => e.event === 'job' && e.data.state === 'paused' && e.data.reason === 'disconnect'), 'event published');
  } finally { await rig.close(); }
});

/** The commands executed from the last `G28 X Y` on: the recovery prelude of the latest resume. */
function recoveryTail(executed: string[]): string[] {
  const at = executed.lastIndexOf('G28 X Y');
  assert.ok(at >= 0, 'resume homed X/Y (recovery), not a plain un-park');
  return executed.slice(at);
}

test('a user pause survives unplug → replug and a firmware reset: resume recovers the parked head (reset-while-parked)', { timeout: 60_000 }, async () => {
  const rig = await createRig({ baud: 115_200, latencyMs: 2, seed: 11 });
  try {
    const p = await rig.waitFor(() => rig.manager.list().find((x) => x.state === 'idle'), 10_000, 'printer idle');
    const lines = ['M140 S60', 'M104 S200', 'G28', 'G1 Z0.3 F600', ...gcodeLines(3000)];
    await rig.files.save('parked.gcode', lines.join('\n'));
    await rig.manager.get(p.id).start('parked.gcode');
    await rig.waitFor(() => (rig.manager.get(p.id).job?.lines_sent ?? 0) > 800, 20_000, 'some progress');
    const paused = await rig.manager.get(p.id).pause();
    assert.equal(paused.reason, 'user');
    const parkedAt = (await rig.store.latest(p.id))!.resume!;
    assert.equal(parkedAt.z, 0.3);

    // Unplug → replug: a board reset. The job must no longer be resumed with the plain un-park.
    await rig.vp.unplug();
    await rig.waitFor(() => rig.manager.get(p.id).info().state === 'disconnected', 10_000, 'disconnected');
    const cut = rig.vp.sim.executed.length;
    await rig.vp.replug();
    await rig.waitFor(() => rig.manager.get(p.id).info().state === 'paused', 15_000, 'reconnected, job still paused');
    assert.equal(rig.manager.get(p.id).job?.reason, 'reset-while-parked');
    assert.equal((await rig.store.latest(p.id))?.reason, 'reset-while-parked', 'persisted (survives a restart too)');
    await rig.manager.get(p.id).resume();
    const tail = recoveryTail(rig.vp.sim.executed.slice(cut));
    const before = rig.vp.sim.executed.slice(cut, rig.vp.sim.executed.length - tail.length);
    assert.ok(before.includes('M190 S60') && before.includes('M109 S200'), 're-heated to the recorded targets first');
    assert.match(tail.find((c) => c.startsWith('G92 ')) ?? '', /^G92 Z10\.3 /, 'Z set to the parked height (0.3 + 10 mm lift)');
    assert.ok(tail.includes('G1 Z-10 F600') && tail.includes('G1 E2 F2400'), 'lowered and un-retracted');

    // Pause again, then the board reboots on its own (watchdog, brown-out) while parked.
    await rig.waitFor(() => (rig.manager.get(p.id).job?.lines_sent ?? 0) > 1600, 20_000, 'more progress');
    assert.equal((await rig.manager.get(p.id).pause()).reason, 'user');
    const cut2 = rig.vp.sim.executed.length;
    rig.vp.sim.reset();
    await rig.waitFor(() => rig.manager.get(p.id).job?.reason === 'reset-while-parked', 10_000, 'reset noticed while parked');
    assert.equal(rig.manager.get(p.id).state, 'paused');
    await rig.manager.get(p.id).resume();
    const tail2 = recoveryTail(rig.vp.sim.executed.slice(cut2));
    assert.ok(rig.vp.sim.executed.slice(cut2).includes('M109 S200'), 're-heated after the firmware reset');
    assert.ok(tail2.some((c) => c.startsWith('G92 Z10.3 ')) && tail2.includes('G1 Z-10 F600'));

    const job = await rig.jobEnd(p.id);
    assert.equal(job.state, 'done');
    const moves = rig.vp.sim.executed.filter((c) => c.startsWith('G1 X') && c.includes(' E'));
    assert.deepEqual(moves.slice(-500), lines.slice(-500), 'finished the file in order');
  } finally { await rig.close(); }
});

test('without AUTOREPORT_TEMP/ADVANCED_OK temperatures are polled during a print; a firmware halt fails the job', { timeout: 60_000 }, async () => {
  const rig = await createRig({ baud: 115_200, latencyMs: 2, autoreportTemp: false, advancedOk: false, heatRatePerS: 100 });
  try {
    const p = await rig.waitFor(() => rig.manager.list().find((x) => x.state === 'idle'), 10_000, 'printer idle');
    assert.equal(p.capabilities?.AUTOREPORT_TEMP, false);
    await rig.files.save('slow.gcode', ['M104 S80', ...gcodeLines(1500), 'G4 P3000', ...gcodeLines(200)].join('\n'));
    await rig.manager.get(p.id).start('slow.gcode');
    const t = await rig.waitFor(() => { const x = rig.manager.get(p.id).info(); return x.state === 'printing' && (x.temperatures.T0?.actual ?? 0) > 60 && x.temperatures; }, 20_000, 'polled temperatures while printing');
    assert.equal(t.T0!.target, 80);
    rig.vp.sim.halt();
    const job = await rig.jobEnd(p.id, 10_000);
    assert.equal(job.state, 'failed');
    assert.equal(job.reason, 'firmware-error');
    const info = rig.manager.get(p.id).info();
    assert.equal(info.state, 'error');
    assert.match(info.error ?? '', /Thermal Runaway/);
  } finally { await rig.close(); }
});

test('a firmware reset mid-print pauses the job (firmware-reset) and it resumes; a reset also clears an emergency stop', { timeout: 60_000 }, async () => {
  const rig = await createRig({ baud: 250_000, latencyMs: 2 });
  try {
    const p = await rig.waitFor(() => rig.manager.list().find((x) => x.state === 'idle'), 10_000, 'printer idle');
    const lines = gcodeLines(3000);
    await rig.files.save('reset.gcode', lines.join('\n'));
    const printer = rig.manager.get(p.id);
    await printer.start('reset.gcode');
    await rig.waitFor(() => (printer.job?.lines_sent ?? 0) > 500, 20_000, 'progress');
    rig.vp.sim.reset();
    await rig.waitFor(() => printer.job?.state === 'paused' && printer.state === 'paused', 10_000, 'paused by reset');
    assert.equal(printer.job!.reason, 'firmware-reset');
    await printer.resume();
    const job = await rig.jobEnd(printer.id, 30_000);
    assert.equal(job.state, 'done');
    assert.deepEqual(rig.vp.sim.executed.filter((c) => c.startsWith('G1 X') && c.includes(' E')).slice(-500), lines.slice(-500));

    printer.emergencyStop();
    assert.equal(printer.state, 'error');
    await new Promise((r) => setTimeout(r, 100));
    rig.vp.sim.reset(); // the user presses the board's reset button
    await rig.waitFor(() => printer.state === 'idle', 10_000, 'idle after reset');
    printer.command('M105');
  } finally { await rig.close(); }
});

test('UTF-8 in a file (M486 object names, M117) and in a terminal command reaches the firmware as the same bytes, checksummed over bytes', { timeout: 60_000 }, async () => {
  const rig = await createRig({ baud: 250_000, latencyMs: 1 });
  try {
    const p = await rig.waitFor(() => rig.manager.list().find((x) => x.state === 'idle'), 10_000, 'printer idle');
    const moves = gcodeLines(200);
    const text = ['M486 S0 A"Würfel_20mm.stl"', 'M117 Drucke Würfel – 1/2', ...moves, 'M486 S-1', 'M117 Fertig ✓'];
    await rig.files.save('würfel.gcode', text.join('\n') + '\n');
    await rig.manager.get(p.id).start('würfel.gcode');
    const job = await rig.jobEnd(p.id);
    assert.equal(job.state, 'done');
    // The simulator sees what came over the pty, byte by byte (latin1 strings): the UTF-8 bytes of each line.
    const utf8 = (s: string) => Buffer.from(s, 'utf8').toString('latin1');
    const seen = rig.vp.sim.executed.filter((c) => c.startsWith('M486') || c.startsWith('M117'));
    assert.deepEqual(seen, ['M486 S0 A"Würfel_20mm.stl"', 'M117 Drucke Würfel – 1/2', 'M486 S-1', 'M117 Fertig ✓'].map(utf8));
    assert.equal(rig.vp.sim.stats.lineErrors, 0, 'no checksum mismatch: the checksum covers the bytes sent');
    assert.deepEqual(rig.vp.sim.executed.filter((c) => c.startsWith('G1 X')), moves);

    const logged: string[] = [];
    rig.manager.events.on('event', (e) => { if (e.event === 'log' && e.data.direction === 'sent') logged.push(e.data.line); });
    rig.manager.get(p.id).command('M117 Grüße aus der PrintBox');
    await rig.waitFor(() => rig.vp.sim.executed.includes(utf8('M117 Grüße aus der PrintBox')), 5000, 'terminal M117 executed');
    assert.equal(rig.vp.sim.stats.lineErrors, 0);
    assert.deepEqual(logged, ['M117 Grüße aus der PrintBox'], 'the terminal shows the text as typed');
    // Too long counts bytes: 40 × "ü" is 80 bytes of text after "M117 ".
    assert.throws(() => rig.manager.get(p.id).command(`M117 ${'ü'.repeat(40)}`), { code: 'bad_gcode', message: /longer than 80 bytes/ });
  } finally { await rig.close(); }
});
