/**
 * The print history's pieces without a printer: the filament counter over G-code as slicers write it
 * (absolute and relative E, G92 resets, retractions, G90/G91 switching E too, as Marlin does), and the
 * job store's history, pruning and per-file statistics on a real SQLite file, reopened as after a reboot.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { FilamentCounter } from '../../services/printer/jobs/filament.ts';
import { historyEntry, JobStore } from '../../services/printer/jobs/job-store.ts';

const count = (lines: string[], from?: FilamentCounter) => {
  const c = from ?? new FilamentCounter();
  for (const l of lines) c.apply(l);
  return c;
};

test('absolute E: the furthest position reached; G92 E0 starts a new reference without losing what was pushed', () => {
  assert.equal(count(['G1 X1 E1.5', 'G1 X2 E3', 'G1 X3 E4.25']).used, 4.25);
  assert.equal(count(['M82', 'G1 E5', 'G92 E0', 'G1 E2', 'G92 E0', 'G1 E0.5']).used, 7.5);
  assert.equal(count(['G1 E5', 'G92 E100', 'G1 E101']).used, 6, 'G92 E to any value, not only 0');
  assert.equal(count(['G1 E5', 'G92 X0 Y0', 'G1 E6']).used, 6, 'a G92 without E leaves E alone');
  assert.equal(count(['G28', 'G1 X10 Y10 F3000', 'M104 S200']).used, 0, 'no E, nothing used');
});

test('retractions: a retract and its prime count once, a final retract gives nothing back', () => {
  // absolute: retract 0.8 at 10, prime back to 10, go on to 12, retract at the end
  assert.equal(count(['G1 E10', 'G1 E9.2 F2400', 'G1 E10 F2400', 'G1 X5 E12', 'G1 E11 F2400']).used, 12);
  // relative: the same moves
  assert.equal(count(['M83', 'G1 E10', 'G1 E-0.8', 'G1 E0.8', 'G1 X5 E2', 'G1 E-1']).used, 12);
  // a retraction before a G92 reset and the prime after it (PrusaSlicer's layer change)
  assert.equal(count(['G1 E10', 'G1 E9', 'G92 E0', 'G1 E1', 'G1 E3']).used, 12);
});

test('relative E: M83 and G91 make E relative, M82 and G90 make it absolute again', () => {
  assert.equal(count(['M83', 'G1 X1 E0.5', 'G1 X2 E0.5', 'G1 X3 E1']).used, 2);
  assert.equal(count(['G91', 'G1 E2', 'G1 E3', 'G90', 'G1 E6']).used, 6, 'G90 makes E absolute again: E6 is one more mm');
  assert.equal(count(['M83', 'G1 E4', 'M82', 'G92 E0', 'G1 E1']).used, 5);
  assert.equal(count(['G1 X1 E2', 'M83', 'G1 X2 E1', 'G2 X3 Y3 I1 J0 E1', 'G0 E0.5']).used, 4.5, 'G0 and arcs extrude too');
  assert.equal(count(['G1 X1 E.5', 'G1 X2 E1.5']).used, 1.5, 'E.5 is half a millimetre');
});

test('a stored counter state goes on counting where it stopped (pause, restart, resume)', () => {
  const first = count(['M83', 'G1 E5', 'G1 E-1']);
  const resumed = count(['G1 E1', 'G1 E2'], FilamentCounter.from(JSON.parse(JSON.stringify(first.state())) as ReturnType<FilamentCounter['state']>));
  assert.equal(resumed.used, 7);
  assert.equal(FilamentCounter.from({ e: Number.NaN, total: 'x' as unknown as number }).used, 0, 'a malformed state starts from zero');
});

test('job store: history entries, pruning by id, date and count, statistics per file, kept across a reopen', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'printbox-history-'));
  const file = path.join(dir, 'printer.db');
  try {
    let store = await JobStore.open(file, { historyMax: 4 });
    // A job starts now; its end is set `hours` later, so durations and dates are known.
    const at = (hours: number) => new Date(Date.now() + hours * 3_600_000).toISOString();
    const finish = async (name: string, state: 'done' | 'cancelled' | 'failed', hours: number, extra: { reason?: string; user?: string } = {}) => {
      const j = await store.create({ printerId: 'p1', file: name, linesTotal: 10, bytesTotal: 100, user: extra.user ?? 'alice', printerName: 'Prusa MK3', filamentEstimateMm: 500 });
      Object.assign(j, { state, ended_at: at(hours), filament_mm: 12.5, ...(extra.reason ? { reason: extra.reason } : {}) });
      await store.save(j);
      return j;
    };
    const a = (await finish('a.gcode', 'done', 1)).id;
    const failed = await finish('a.gcode', 'failed', 2, { reason: 'firmware-error' });
    const c = (await finish('b.gcode', 'cancelled', 3, { user: 'bob/key:pbk_1234' })).id;
    const active = await store.create({ printerId: 'p2', file: 'c.gcode', linesTotal: 1, bytesTotal: 1 });

    const [latest] = await store.history();
    assert.ok(latest);
    const entry = historyEntry(latest);
    assert.equal(entry.id, c);
    assert.deepEqual({ printer: entry.printer, user: entry.user, result: entry.result, filament: entry.filament, file_size: entry.file_size },
      { printer: { id: 'p1', name: 'Prusa MK3' }, user: 'bob/key:pbk_1234', result: 'cancelled', filament: { used_mm: 12.5, estimated_mm: 500 }, file_size: 100 });
    assert.equal(historyEntry((await store.history())[1]!).reason, 'firmware-error');
    assert.equal((await store.history()).length, 3, 'the running job is not history');

    const stats = await store.fileStats();
    assert.equal(stats['a.gcode']?.success, 1);
    assert.equal(stats['a.gcode']?.failure, 1);
    assert.deepEqual(stats['a.gcode']?.last, { ended_at: failed.ended_at, success: false, duration_s: 7200 });
    assert.equal(stats['a.gcode']?.last_success_duration_s, 3600);
    assert.equal(historyEntry(latest).duration_s, 10_800);
    assert.deepEqual(await store.fileStats({ printerId: 'p2' }), {});
    assert.deepEqual(Object.keys(await store.fileStats({ printerId: 'p1', file: 'b.gcode' })), ['b.gcode']);

    await store.close();
    store = await JobStore.open(file, { historyMax: 4 });
    assert.deepEqual((await store.history()).map((j) => j.id), [c, c - 1, a], 'kept across a reopen');

    // by date: only what ended before it; the running job never
    assert.equal(await store.prune({ before: at(1.5) }), 1);
    assert.deepEqual((await store.history()).map((j) => j.id), [c, c - 1]);
    // by id; an active one is refused, an unknown one is 404
    await assert.rejects(store.remove(active.id), { status: 409, code: 'job_active' });
    await assert.rejects(store.remove(9999), { status: 404 });
    await store.remove(c - 1);
    assert.deepEqual((await store.history()).map((j) => j.id), [c]);
    // by count: historyMax 4 keeps the newest four finished jobs when another one finishes
    for (let i = 0; i < 5; i++) await finish(`n${i}.gcode`, 'done', 4 + i);
    assert.deepEqual((await store.history()).map((j) => j.file), ['n4.gcode', 'n3.gcode', 'n2.gcode', 'n1.gcode']);
    assert.equal((await store.get(active.id))?.state, 'printing', 'pruning by count leaves the running job');
    // everything finished
    assert.equal(await store.prune(), 4);
    assert.deepEqual(await store.history(), []);
    assert.ok(await store.get(active.id));
    await store.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
