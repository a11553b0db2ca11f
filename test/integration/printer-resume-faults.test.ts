/**
 * Faults during a resume prelude (un-park / recovery moves sent, not yet acknowledged), over a real pty to
 * the virtual Marlin: resume must fail at once or at its timeout, the job must go back to paused (never a
 * "printing" job nothing feeds), and the next resume must not trust the half-done prelude — the
 * simulator's physical head position shows the nozzle never goes below the print.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRig, gcodeLines, type Rig } from '../helpers/virtual-printer.ts';

const Z = 0.3;
const LINES = ['M140 S60', 'M104 S200', 'G28', `G1 Z${Z} F600`, ...gcodeLines(3000)];
const isMove = (c: string) => c.startsWith('G1 X') && c.includes(' E');
const isLower = (c: string) => c === 'G1 Z-10 F600';

async function printAndPause(rig: Rig) {
  const p = await rig.waitFor(() => rig.manager.list().find((x) => x.state === 'idle'), 10_000, 'printer idle');
  const printer = rig.manager.get(p.id);
  await rig.files.save('resume.gcode', LINES.join('\n'));
  await printer.start('resume.gcode');
  await rig.waitFor(() => (printer.job?.lines_sent ?? 0) > 800, 20_000, 'progress');
  const paused = await printer.pause();
  assert.equal(paused.reason, 'user');
  assert.ok(Math.abs(rig.vp.sim.physical.Z - (Z + 10)) < 1e-9, 'parked: lifted');
  return { printer, id: p.id, resumeAt: paused.lines_sent };
}

async function resumeSafelyToEnd(rig: Rig, printer: Awaited<ReturnType<typeof printAndPause>>['printer'], resumeAt: number) {
  const after = await rig.resumeToEnd(printer.id);
  assert.ok(after.indexOf('G28 X Y') > after.indexOf('G1 Z10 F600'), 'lifted, then re-homed X/Y');
  assert.deepEqual(after.filter(isMove), LINES.slice(resumeAt).filter(isMove), 'continued from the resume point, in order');
  assert.ok(rig.vp.sim.physical.minZ >= Z - 1e-9, `never below the print (lowest Z ${rig.vp.sim.physical.minZ})`);
}

test('resume prelude times out: the job is paused again (resume-failed), and the next resume re-homes and stays above the print', { timeout: 60_000 }, async () => {
  const rig = await createRig({ baud: 115_200, latencyMs: 2, seed: 31 }, { resumeTimeoutMs: 1500 });
  try {
    const { printer, id, resumeAt } = await printAndPause(rig);
    rig.vp.sim.stallAt(isLower); // the un-park's lowering move never finishes
    await assert.rejects(printer.resume(), { code: 'printer_timeout' });
    assert.equal(printer.job?.state, 'paused', 'not left "printing" with nothing feeding it');
    assert.equal(printer.job.reason, 'resume-failed');
    assert.equal(printer.state, 'paused');
    assert.equal((await rig.store.latest(id))?.reason, 'resume-failed', 'persisted');

    const starts = () => rig.events.filter((e) => e.event === 'log' && e.data.line === 'start').length;
    const before = starts();
    rig.vp.sim.reset(); // the user power-cycles the stuck board
    await rig.waitFor(() => starts() > before, 10_000, 'reset seen');
    await rig.waitFor(() => printer.state === 'paused', 10_000, 'paused after the reset');
    assert.equal(printer.job?.reason, 'resume-failed');
    await resumeSafelyToEnd(rig, printer, resumeAt);
  } finally { await rig.close(); }
});

test('unplugged during the resume prelude: resume fails at once, the job is paused (disconnect) and resumes safely after the replug', { timeout: 60_000 }, async () => {
  const rig = await createRig({ baud: 115_200, latencyMs: 2, seed: 32 });
  try {
    const { printer, resumeAt } = await printAndPause(rig);
    rig.vp.sim.stallAt(isLower);
    const cut = rig.vp.sim.executed.length;
    const resuming = printer.resume().then(() => undefined, (e: { code?: string }) => e);
    await rig.waitFor(() => rig.vp.sim.executed.slice(cut).includes('G91'), 10_000, 'un-park under way');
    const t0 = Date.now();
    await rig.vp.unplug();
    const err = await resuming;
    assert.ok(Date.now() - t0 < 5000, 'resume answered when the port closed');
    assert.equal(err?.code, 'printer_disconnected');
    await rig.waitFor(() => printer.state === 'disconnected', 10_000, 'disconnected');
    assert.equal(printer.job?.state, 'paused');
    assert.equal(printer.job.reason, 'disconnect');

    await rig.vp.replug();
    await rig.waitFor(() => printer.state === 'paused', 15_000, 'reconnected, job still paused');
    await resumeSafelyToEnd(rig, printer, resumeAt);
  } finally { await rig.close(); }
});
