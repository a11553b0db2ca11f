/**
 * Graceful restart (SIGTERM, as systemd stops the unit) of the printer service with a job the user
 * paused: the job must come back paused at the same resume point — not "interrupted", not lost, not
 * printing — and resume must recover the parked head (the reopened port reset the board) and finish
 * the file with every line executed exactly once, in order.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { JobStore } from '../../services/printer/jobs/job-store.ts';
import { startPrinterStack } from '../helpers/printer-stack.ts';
import { gcodeLines } from '../helpers/virtual-printer.ts';

const isMove = (c: string) => c.startsWith('G1 X') && c.includes(' E');

async function storedJob(dataDir: string, printerId: string) {
  const store = await JobStore.open(path.join(dataDir, 'printer.db'));
  try { return await store.latest(printerId); } finally { await store.close(); }
}

test('SIGTERM with a paused job: after the restart it is still paused at its resume point and resumes to the end in order', { timeout: 90_000 }, async () => {
  const lines = ['M140 S60', 'M104 S210', 'G28', 'G1 Z0.2 F600', ...gcodeLines(4000)];
  const stack = await startPrinterStack({
    tag: 'prestart', printers: { 'vp-1': { baud: 115_200, latencyMs: 2, record: true } },
    files: { 'paused.gcode': lines.join('\n') },
  });
  const { client, until } = stack;
  const vp = stack.vps['vp-1']!;
  try {
    await stack.untilState('vp-1', 'idle');
    await stack.printUntil('vp-1', 'paused.gcode', 1000);
    const paused = await client.call('jobs.pause', { printerId: 'vp-1' }, 35_000);
    assert.equal(paused.state, 'paused');
    assert.equal(paused.reason, 'user');
    const at = paused.lines_sent;
    assert.ok(vp.sim.executed.includes('G1 Z10 F600'), 'parked');

    await stack.stopPrinter('SIGTERM');
    assert.equal(stack.printer.child.exitCode, 0, `graceful stop exits 0:\n${stack.printer.lines.join('\n')}`);
    const stopped = await storedJob(stack.dataDir, 'vp-1');
    assert.equal(stopped?.state, 'paused', 'stored as paused by the stop');
    assert.equal(stopped.reason, 'user');
    assert.equal(stopped.lines_sent, at);
    assert.equal(stopped.resume?.index, at, 'resume point = first line not acknowledged');
    assert.equal(stopped.resume.z, 0.2);
    assert.equal(stopped.resume.hotend, 210);

    const cut = vp.sim.executed.length;
    await stack.startPrinter();
    const back = await stack.untilState('vp-1', 'paused');
    assert.equal(back.job?.state, 'paused', 'still paused, not interrupted or printing');
    assert.equal(back.job.reason, 'reset-while-parked', 'the reopened port reset the board: the park cannot simply be undone');
    assert.equal(back.job.lines_sent, at, 'progress kept');
    assert.equal((await client.call('jobs.active', {})).active, false);
    const restarted = await storedJob(stack.dataDir, 'vp-1');
    assert.deepEqual(restarted?.resume, stopped.resume, 'the same resume point after the restart');
    assert.equal(vp.sim.executed.slice(cut).filter(isMove).length, 0, 'nothing printed while paused');

    const resumed = await client.call('jobs.resume', { printerId: 'vp-1' }, 35_000);
    assert.equal(resumed.state, 'printing');
    const done = await stack.jobEnd('vp-1');
    assert.equal(done.state, 'done');
    assert.equal(done.lines_sent, lines.length);

    const after = vp.sim.executed.slice(cut);
    const home = after.indexOf('G28 X Y');
    assert.ok(home > 0, 'recovery homed X/Y');
    assert.ok(after.slice(0, home).includes('M190 S60') && after.slice(0, home).includes('M109 S210'), 're-heated first');
    const tail = after.slice(home);
    assert.match(tail.find((c) => c.startsWith('G92 ')) ?? '', /^G92 Z10\.2 /, 'Z set to the parked height (0.2 + 10 mm lift)');
    assert.ok(tail.indexOf('G1 Z-10 F600') < tail.findIndex(isMove), 'lowered back onto the print before the next move');
    // Pause drained the firmware before recording the resume point: every move ran exactly once, in order.
    assert.deepEqual(vp.sim.executed.filter(isMove), lines.filter(isMove));
    assert.deepEqual(after.filter(isMove), lines.slice(at).filter(isMove), 'continued from the resume point');
  } finally { await stack.close(); }
});

test('kill -9 while the park moves are in flight: after the restart the job is reset-while-parking and resumes without touching the print', { timeout: 90_000 }, async () => {
  const lines = ['M104 S210', 'G28', 'G1 Z0.2 F600', ...gcodeLines(3000)];
  const stack = await startPrinterStack({
    tag: 'prestart9', printers: { 'vp-1': { baud: 115_200, latencyMs: 2, record: true } },
    files: { 'parking.gcode': lines.join('\n') },
  });
  const { client, until } = stack;
  const vp = stack.vps['vp-1']!;
  try {
    await stack.untilState('vp-1', 'idle');
    await stack.printUntil('vp-1', 'parking.gcode', 800);
    vp.sim.stallAt((c) => c === 'G1 Z10 F600'); // the lift never finishes: the park is in flight when the service dies
    const cut = vp.sim.executed.length;
    const pausing = client.call('jobs.pause', { printerId: 'vp-1' }, 35_000).catch((e: Error) => e);
    await until(() => vp.sim.executed.slice(cut).includes('G1 E-2 F2400'), 10_000, 'park under way');
    await stack.stopPrinter('SIGKILL');
    assert.ok(await pausing instanceof Error, 'the pause call died with the service');
    const stored = await storedJob(stack.dataDir, 'vp-1');
    assert.equal(stored?.state, 'paused', 'stored as paused before the park moves were sent');
    assert.equal(stored.resume?.parked, false);

    await stack.startPrinter();
    const back = await stack.untilState('vp-1', 'paused');
    assert.equal(back.job?.reason, 'reset-while-parking', 'an unconfirmed park is not resumed as if the head were lifted');
    assert.equal(back.job.lines_sent, stored.resume.index);
    vp.sim.physical.minZ = Infinity;
    const resumeCut = vp.sim.executed.length;
    await client.call('jobs.resume', { printerId: 'vp-1' }, 35_000);
    const done = await stack.jobEnd('vp-1');
    assert.equal(done.state, 'done');
    const after = vp.sim.executed.slice(resumeCut);
    assert.ok(after.indexOf('G28 X Y') > after.indexOf('M109 S210'), 're-heated, then re-homed X/Y');
    assert.ok(vp.sim.physical.minZ >= 0.2 - 1e-9, `never below the print (lowest Z ${vp.sim.physical.minZ})`);
    assert.ok(Math.abs(vp.sim.physical.Z - 0.2) < 1e-9, `back at the print height (Z ${vp.sim.physical.Z})`);
    assert.deepEqual(vp.sim.executed.filter(isMove), lines.filter(isMove), 'every move exactly once, in order');
  } finally { await stack.close(); }
});

test('SIGTERM mid-print: the stop stores the exact last acknowledged line (not the last periodic checkpoint) and resume finishes', { timeout: 90_000 }, async () => {
  const lines = ['M104 S210', 'G28', 'G1 Z0.2 F600', ...gcodeLines(4000)];
  const stack = await startPrinterStack({
    tag: 'prestart-term', printers: { 'vp-1': { baud: 115_200, latencyMs: 2, record: true } },
    files: { 'term.gcode': lines.join('\n') },
  });
  const { client, until } = stack;
  const vp = stack.vps['vp-1']!;
  try {
    await stack.untilState('vp-1', 'idle');
    await stack.printUntil('vp-1', 'term.gcode', 1000);
    await stack.stopPrinter('SIGTERM');
    assert.equal(stack.printer.child.exitCode, 0, 'graceful stop exits 0');
    const stored = await storedJob(stack.dataDir, 'vp-1');
    assert.equal(stored?.state, 'paused');
    assert.equal(stored.reason, 'service-restart');
    const at = stored.resume!.index;
    assert.equal(stored.lines_sent, at);
    const ran = vp.sim.executed.filter(isMove);
    const acked = lines.slice(0, at).filter(isMove);
    assert.deepEqual(ran.slice(0, acked.length), acked, 'every acknowledged line had run, in order');
    // Only lines still in flight when the port closed (a few: BUFSIZE + the RX window) ran past the stored point;
    // a resume point from the once-a-second checkpoint would be ~100+ lines behind at this rate.
    assert.ok(ran.length - acked.length <= 12, `stored point is the last acknowledged line (${ran.length - acked.length} ran past it)`);

    await stack.startPrinter();
    const back = await stack.untilState('vp-1', 'paused');
    assert.equal(back.job?.reason, 'service-restart');
    assert.equal(back.job.lines_sent, at);
    await client.call('jobs.resume', { printerId: 'vp-1' }, 35_000);
    const done = await stack.jobEnd('vp-1');
    assert.equal(done.state, 'done');
    const rest = lines.slice(at).filter(isMove);
    assert.deepEqual(vp.sim.executed.filter(isMove).slice(-rest.length), rest, 'continued from the stored point to the end, in order');
  } finally { await stack.close(); }
});

test('SIGTERM while a pause is still draining: the stop stores the paused job at the exact stalled line, and it resumes without touching the print', { timeout: 90_000 }, async () => {
  const lines = ['M104 S210', 'G28', 'G1 Z0.2 F600', ...gcodeLines(3000)];
  const stack = await startPrinterStack({
    tag: 'prestart-drain', printers: { 'vp-1': { baud: 115_200, latencyMs: 2, record: true } },
    files: { 'drain.gcode': lines.join('\n') },
  });
  const { client, until } = stack;
  const vp = stack.vps['vp-1']!;
  try {
    await stack.untilState('vp-1', 'idle');
    await stack.printUntil('vp-1', 'drain.gcode', 800);
    vp.sim.stallAt(isMove); // the next move sticks in the planner: the pause waits for the firmware to drain
    const pausing = client.call('jobs.pause', { printerId: 'vp-1' }, 35_000).catch((e: Error) => e);
    await until(async () => (await client.call('jobs.get', { printerId: 'vp-1' })).state === 'paused', 10_000, 'pause accepted');
    await new Promise((r) => setTimeout(r, 300)); // well past the last ok of the lines before the stuck one
    await stack.stopPrinter('SIGTERM');
    assert.equal(stack.printer.child.exitCode, 0, 'graceful stop exits 0');
    await pausing;
    const ranMoves = vp.sim.executed.filter(isMove).length;
    const stuck = lines.findIndex((c, i) => isMove(c) && lines.slice(0, i + 1).filter(isMove).length === ranMoves + 1);
    const stored = await storedJob(stack.dataDir, 'vp-1');
    assert.equal(stored?.state, 'paused', 'stored as paused by the stop, not left as a printing checkpoint');
    assert.equal(stored.resume?.parked, false, 'no park was confirmed');
    assert.equal(stored.resume.index, stuck, 'resume point = the stuck line, the first one not acknowledged');
    assert.equal(stored.lines_sent, stuck);

    await stack.startPrinter();
    const back = await stack.untilState('vp-1', 'paused');
    assert.equal(back.job?.reason, 'reset-while-parking');
    vp.sim.physical.minZ = Infinity;
    await client.call('jobs.resume', { printerId: 'vp-1' }, 35_000);
    const done = await stack.jobEnd('vp-1');
    assert.equal(done.state, 'done');
    assert.ok(vp.sim.physical.minZ >= 0.2 - 1e-9, `never below the print (lowest Z ${vp.sim.physical.minZ})`);
    assert.deepEqual(vp.sim.executed.filter(isMove), lines.filter(isMove), 'every move exactly once, in order');
  } finally { await stack.close(); }
});
