/**
 * The pieces of the timelapse that decide without a printer: what is a new layer (the printer side's
 * LayerTracker over MachineState) and which videos go when the quota is passed (TimelapseStore).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { MachineState } from '../../services/printer/device/machine-state.ts';
import { LayerTracker } from '../../services/printer/jobs/layers.ts';
import { TimelapseStore } from '../../services/web/timelapse/store.ts';

function layersOf(lines: string[]): Array<[number, number]> {
  const m = new MachineState();
  const t = new LayerTracker();
  const out: Array<[number, number]> = [];
  for (const l of lines) {
    const e = m.e;
    m.apply(l);
    const n = t.next(l, e, m);
    if (n !== undefined) out.push([n, m.z!]);
  }
  return out;
}

test('a layer begins with the first extruding move at a new height: Z-hops, retractions, travel and vase-mode climbs', () => {
  assert.deepEqual(layersOf(['G28', 'G1 Z0.2', 'G1 X1 E1', 'G1 X2 E2']), [[1, 0.2]], 'absolute E');
  assert.deepEqual(layersOf(['M83', 'G1 Z0.2', 'G1 X1 E0.5', 'G1 E-0.8', 'G1 Z0.6', 'G1 X5', 'G1 Z0.2', 'G1 E0.8', 'G1 X6 E0.5', 'G1 Z0.4', 'G1 X7 E0.5']), [[1, 0.2], [2, 0.4]], 'hop, retract and prime are not layers');
  assert.deepEqual(layersOf(['G1 Z0.2', 'G1 X1 Y1', 'G1 Z5', 'G1 X9']), [], 'travel only: no layer');
  assert.deepEqual(layersOf(['M83', 'G1 Z0.2 X1 E0.1', 'G1 Z0.21 X2 E0.1', 'G1 Z0.22 X3 E0.1']).length, 3, 'a spiral climbs a "layer" per move (the recorder caps frames)');
  assert.deepEqual(layersOf(['G91', 'G1 Z0.2', 'G1 X1 E1', 'G1 Z0.2', 'G1 X1 E1', 'G90']), [[1, 0.2], [2, 0.4]], 'relative moves');
  assert.deepEqual(layersOf(['G1 Z0.2', 'G1 X1 E1', 'G92 E0', 'G1 X2 E0.5', 'G1 Z0.4', 'G1 X3 E1']), [[1, 0.2], [2, 0.4]], 'G92 E0 is not a layer');
});

test('quota: the oldest ready videos go first until all fit; the new one goes last; recordings are never touched', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'printbox-tl-'));
  try {
    const store = new TimelapseStore(dir);
    await store.init();
    const mk = async (job: number, size: number, state: 'ready' | 'recording' = 'ready') => {
      fs.writeFileSync(store.video(job), Buffer.alloc(size));
      await store.save({ job, printer: 'vp-1', file: 'a.gcode', state, frames: 10, size, created: new Date().toISOString() });
    };
    await mk(1, 400); await mk(2, 400); await mk(3, 400, 'recording'); await mk(4, 400);
    assert.deepEqual(await store.enforceQuota(900, 4), [1]);
    assert.deepEqual(store.list().map((t) => t.job), [4, 3, 2]);
    assert.deepEqual(await store.enforceQuota(300, 2), [4, 2], 'even the new one, when it alone passes the quota');
    assert.deepEqual(store.list().map((t) => t.job), [3]);
    assert.ok(!fs.existsSync(store.video(1)) && fs.existsSync(store.video(3)));
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
});
