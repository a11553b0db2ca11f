/**
 * Which `ok` confirms which line, over a real pty to the virtual Marlin: lost oks while temperature
 * autoreports arrive every 50 ms (PrintBox turns M155 on itself), a firmware that stops acknowledging
 * altogether, and the extra ok of a raw M108. A job is done only when the printer confirmed every line.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRig, gcodeLines, type Rig } from '../helpers/virtual-printer.ts';

async function idle(rig: Rig) {
  const p = await rig.waitFor(() => rig.manager.list().find((x) => x.state === 'idle'), 10_000, 'printer idle');
  return rig.manager.get(p.id);
}

test('the last ok is lost while autoreports arrive every 50 ms: the poll recovers it, the user is told, and the job is done', { timeout: 30_000 }, async () => {
  const rig = await createRig({ baud: 115_200, latencyMs: 2, autoreportMs: 50 }, { okTimeoutMs: 500 });
  try {
    const printer = await idle(rig);
    const lines = gcodeLines(200);
    await rig.files.save('last.gcode', lines.join('\n') + '\n');
    rig.vp.sim.loseOkAt((c) => c === lines.at(-1));
    await printer.start('last.gcode');
    const job = await rig.jobEnd(printer.id, 10_000);
    assert.equal(job.state, 'done');
    assert.equal(job.lines_sent, 200);
    assert.equal(rig.vp.sim.stats.lostOks, 1);
    // the wait was not silent: told once when it began, once when the printer answered, kept with the job
    assert.deepEqual(job.events?.filter((e) => e.kind === 'notification').map((e) => e.text.replace(/:.*/, '')),
      ['The printer stopped answering', 'The printer answers again']);
  } finally { await rig.close(); }
});

test('every ok lost while autoreports arrive: the job fails after bounded polls with a clear error, never done', { timeout: 40_000 }, async () => {
  const rig = await createRig({ baud: 115_200, latencyMs: 2, autoreportMs: 50 }, { okTimeoutMs: 300 });
  try {
    const printer = await idle(rig);
    await rig.files.save('mute.gcode', gcodeLines(300).join('\n') + '\n');
    rig.vp.sim.opts.lostOkRate = 1;
    await printer.start('mute.gcode');
    const job = await rig.jobEnd(printer.id, 20_000);
    assert.equal(job.state, 'failed');
    assert.equal(job.reason, 'no-response');
    assert.ok(job.lines_sent < 300, 'no line counted as confirmed without an ok');
    assert.equal(printer.state, 'error');
    assert.match(printer.error ?? '', /stopped acknowledging/);
    assert.ok(rig.vp.sim.wire.includes('M105\n'), 'polled');
  } finally { await rig.close(); }
});

test('a raw M108 (emergency parser) mid-print: its ok confirms no job line, the job ends only after the last line ran', { timeout: 30_000 }, async () => {
  const rig = await createRig({ baud: 115_200, latencyMs: 2 });
  try {
    const printer = await idle(rig);
    const lines = [...Array.from({ length: 30 }, (_, i) => `G4 P${20 + i}`), 'G4 P600'];
    await rig.files.save('dwell.gcode', lines.join('\n') + '\n');
    await printer.start('dwell.gcode');
    await rig.waitFor(() => (printer.job?.lines_sent ?? 0) >= 3, 10_000, 'a few lines done');
    printer.command('M108');
    let ranAll: boolean | undefined;
    await rig.waitFor(() => {
      if (printer.job?.state === 'done') ranAll ??= rig.vp.sim.executed.includes('G4 P600');
      return printer.job?.state !== 'printing';
    }, 10_000, 'job end');
    assert.equal(printer.job?.state, 'done');
    assert.equal(ranAll, true, 'the last line had run when the job was marked done');
  } finally { await rig.close(); }
});
