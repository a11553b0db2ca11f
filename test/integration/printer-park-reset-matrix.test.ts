/**
 * The board resets at every point of the park (before or right after each park command runs, its `ok`
 * lost with the reset), over a real pty to the virtual Marlin. Whatever the point: pause answers at once,
 * the job is paused as reset-while-parking at the first unacknowledged line, resume finishes the file in
 * order, the nozzle never goes below the print, and it ends exactly one lift higher if and only if the
 * lift had really run (the host cannot know, so it assumes the lower height).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRig, gcodeLines } from '../helpers/virtual-printer.ts';

const Z = 0.3;
const LINES = ['M140 S60', 'M104 S200', 'G28', `G1 Z${Z} F600`, ...gcodeLines(1500)];
const PARK = ['G91', 'G1 E-2 F2400', 'G1 Z10 F600', 'G90', 'M400'];
const isMove = (c: string) => c.startsWith('G1 X') && c.includes(' E');

test('a board reset at any point of the park: reset-while-parking, resume in order, never below the print', { timeout: 120_000 }, async () => {
  for (const [i, at] of PARK.entries()) {
    for (const afterExecuting of [false, true]) {
      const what = `reset ${afterExecuting ? 'after' : 'before'} ${at}`;
      const rig = await createRig({ baud: 250_000, latencyMs: 2, seed: 40 + i, heatRatePerS: 1000 });
      try {
        const p = await rig.waitFor(() => rig.manager.list().find((x) => x.state === 'idle'), 10_000, 'printer idle');
        const printer = rig.manager.get(p.id);
        await rig.files.save('m.gcode', LINES.join('\n'));
        await printer.start('m.gcode');
        await rig.waitFor(() => (printer.job?.lines_sent ?? 0) > 300, 20_000, 'progress');
        const cut = rig.vp.sim.executed.length;
        rig.vp.sim.resetAt((c) => c === at, { afterExecuting }); // the file itself has none of the park commands
        const t0 = Date.now();
        const paused = await printer.pause();
        assert.ok(Date.now() - t0 < 5000, `${what}: pause answered at once`);
        assert.equal(paused.reason, 'reset-while-parking', what);
        await rig.waitFor(() => printer.state === 'paused', 10_000, `${what}: paused`);
        const resumeAt = paused.lines_sent;
        assert.equal((await rig.store.latest(p.id))?.resume?.index, resumeAt, `${what}: resume point stored`);
        const lifted = rig.vp.sim.executed.slice(cut).includes('G1 Z10 F600');
        assert.equal(lifted, i > 2 || (i === 2 && afterExecuting), `${what}: the simulator lifted exactly when expected`);

        const resumeCut = rig.vp.sim.executed.length;
        rig.vp.sim.physical.minZ = Infinity;
        await printer.resume();
        const job = await rig.jobEnd(printer.id, 30_000);
        assert.equal(job.state, 'done', what);
        assert.deepEqual(rig.vp.sim.executed.slice(resumeCut).filter(isMove), LINES.slice(resumeAt).filter(isMove), `${what}: in order from the resume point`);
        assert.ok(rig.vp.sim.physical.minZ >= Z - 1e-9, `${what}: never below the print (lowest ${rig.vp.sim.physical.minZ})`);
        const expected = Z + (lifted ? 10 : 0);
        assert.ok(Math.abs(rig.vp.sim.physical.Z - expected) < 1e-9, `${what}: ends at ${expected} (is ${rig.vp.sim.physical.Z})`);
      } finally { await rig.close(); }
    }
  }
});
