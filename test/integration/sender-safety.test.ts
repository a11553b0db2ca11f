/**
 * The property behind the send-ahead bound in README "Benchmarks": when the firmware stops reading
 * (a dwell, or commands slower than the wire), every unacknowledged line sits in its buffers, and the
 * sender must never have more in flight than BUFSIZE commands + the RX bytes. Real pty, virtual Marlin.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRig, gcodeLines } from '../helpers/virtual-printer.ts';

for (const advancedOk of [true, false]) {
  test(`a stalling firmware never overflows (250000 baud, BUFSIZE 4, ADVANCED_OK ${advancedOk ? 'on' : 'off'})`, { timeout: 60_000 }, async () => {
    // 3 ms per command is slower than a line's 1.6 ms on the wire, so the buffers fill up and stay full.
    const rig = await createRig({ baud: 250_000, latencyMs: 15, processMs: 3, bufsize: 4, rxSize: 128, advancedOk });
    try {
      const p = await rig.waitFor(() => rig.manager.list().find((x) => x.state === 'idle'), 10_000, 'printer idle');
      const lines = gcodeLines(600);
      // Two dwells: the firmware reads nothing for 400 ms while the sender still has a file to push.
      const file = [...lines.slice(0, 200), 'G4 P400', ...lines.slice(200, 400), 'G4 P400', ...lines.slice(400)];
      await rig.files.save('stall.gcode', file.join('\n') + '\n');
      await rig.manager.get(p.id).start('stall.gcode');
      const job = await rig.jobEnd(p.id, 50_000);
      assert.equal(job.state, 'done');
      assert.equal(rig.vp.sim.stats.overflowBytes, 0, 'no byte was dropped by a full RX buffer');
      assert.equal(rig.vp.sim.stats.lineErrors, 0, 'no line arrived damaged or out of sequence');
      assert.deepEqual(rig.vp.sim.executed.filter((c) => c.startsWith('G1 X') || c.startsWith('G4')), file);
    } finally { await rig.close(); }
  });
}
