/**
 * The job and resend behaviour against a firmware model that is not PrintBox's own: test/helpers/marlin-model
 * is written from Marlin 2.1.x's queue.cpp/MarlinSerial/gcode.cpp, PrintBox's simulator from what the sender
 * expects. A few thousand lines go through the real printer service over a pty with each fault class; every
 * line must reach the planner exactly once, in file order, and the job must end done. The same print runs
 * against the simulator for the faults both can inject.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createModelRig } from '../helpers/marlin-model/rig.ts';
import type { FaultKind, ModelOptions } from '../helpers/marlin-model/model.ts';
import { createRig, gcodeLines } from '../helpers/virtual-printer.ts';
import type { SimOptions } from '../../services/printer/virtual/simulator.ts';

const LINES = gcodeLines(3000);
const FILE = LINES.join('\n') + '\n';
const moves = (executed: string[]) => executed.filter((c) => c.startsWith('G1 X'));

/** overflows: plain oks carry no line number, so a duplicated one is counted and the window outgrows the RX ring
 *  until the firmware's resend request (for a line an extra ok "confirmed") sets the count right again; the job
 *  may end while its last lines are still in the firmware's buffers. */
const MODEL_CASES: Array<{ name: string; opts: Partial<ModelOptions>; stat?: FaultKind; overflows?: boolean }> = [
  { name: 'no fault, ADVANCED_OK', opts: { advancedOk: true } },
  { name: 'a corrupted byte in 1% of the lines (checksum mismatch → Resend: + ok)', opts: { faults: { corruptByte: 0.01 }, seed: 3 }, stat: 'corruptByte' },
  { name: 'a dropped byte in 1% of the lines', opts: { faults: { dropByte: 0.01 }, seed: 5 }, stat: 'dropByte' },
  { name: '0.5% of the oks dropped (no busy: the M105 poll recovers)', opts: { faults: { dropOk: 0.005 }, seed: 7 }, stat: 'dropOk' },
  { name: '0.5% of the oks duplicated, ADVANCED_OK (the ok names its line)', opts: { advancedOk: true, faults: { duplicateOk: 0.005 }, seed: 9 }, stat: 'duplicateOk' },
  { name: '0.5% of the plain oks duplicated (the resend request takes back what they confirmed)', opts: { faults: { duplicateOk: 0.005 }, seed: 9 }, stat: 'duplicateOk', overflows: true },
  { name: 'a late `start` (2.5 s bootloader) after the reset on open', opts: { bootMs: 2500 } },
  { name: 'per-command latency 3 ms, BUFSIZE 8, ADVANCED_OK', opts: { latencyMs: 3, bufsize: 8, advancedOk: true, faults: { corruptByte: 0.005 }, seed: 11 } },
];

for (const c of MODEL_CASES) {
  test(`Marlin model: ${c.name} — ${LINES.length} lines reach the planner once, in order`, { timeout: 90_000 }, async () => {
    const rig = await createModelRig(c.opts, { okTimeoutMs: 400, probeTimeoutMs: 8000 });
    try {
      const printer = await rig.idle();
      await rig.files.save('model.gcode', FILE);
      await printer.start('model.gcode');
      const job = await rig.jobEnd(printer.id, 80_000);
      assert.equal(job.state, 'done', `job ${job.state} ${job.reason ?? ''} ${printer.error ?? ''}`);
      assert.equal(job.lines_sent, LINES.length);
      // A duplicated plain ok near the end can confirm the last lines while they still sit in the firmware's
      // buffers (or were cut by the overflow and are asked for again, then resent): they run right after.
      if (c.overflows) await rig.waitFor(() => moves(rig.model.executed).length >= LINES.length, 10_000, 'the last lines ran');
      assert.deepEqual(moves(rig.model.executed), LINES, 'every line executed exactly once, in file order');
      if (!c.overflows) assert.equal(rig.model.droppedBytes, 0, 'the send-ahead window never overflowed the 128-byte RX ring');
      if (c.stat) assert.ok(rig.model.stats[c.stat] > 3, `faults were injected (${c.stat}: ${rig.model.stats[c.stat]})`);
    } finally { await rig.close(); }
  });
}

const SIM_CASES: Array<{ name: string; opts: Partial<SimOptions> }> = [
  { name: 'no fault', opts: {} },
  { name: 'checksum errors in 1% of the lines', opts: { errorRate: 0.01, seed: 3 } },
  { name: '0.5% of the oks lost', opts: { lostOkRate: 0.005, seed: 7 } },
];

for (const c of SIM_CASES) {
  test(`PrintBox simulator: ${c.name} — the same ${LINES.length}-line print`, { timeout: 90_000 }, async () => {
    const rig = await createRig({ baud: 250_000, latencyMs: 1, ...c.opts }, { okTimeoutMs: 400 });
    try {
      const p = await rig.waitFor(() => rig.manager.list().find((x) => x.state === 'idle'), 10_000, 'printer idle');
      await rig.files.save('model.gcode', FILE);
      await rig.manager.get(p.id).start('model.gcode');
      const job = await rig.jobEnd(p.id, 80_000);
      assert.equal(job.state, 'done');
      assert.deepEqual(moves(rig.vp.sim.executed), LINES);
    } finally { await rig.close(); }
  });
}
