/**
 * The printer service as a real process on printer.sock: discovery of a pty port from
 * PRINTBOX_SERIAL_PORTS, printing over IPC, and kill -9 mid-print → after restart the interrupted job
 * is reported honestly (paused, reason service-restart, progress from the SQLite checkpoint) and resumes.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { FileStore } from '../../services/shared/files.ts';
import { startPrinterStack } from '../helpers/printer-stack.ts';
import { gcodeLines } from '../helpers/virtual-printer.ts';

const vp1 = { 'vp-1': { baud: 115_200, latencyMs: 2, record: true } };

test('kill -9 mid-print: the restarted service reports the interrupted job and can resume it', { timeout: 90_000 }, async () => {
  const stack = await startPrinterStack({ tag: 'svc', printers: vp1 });
  const { client, until, dir } = stack;
  const vp = stack.vps['vp-1']!;
  try {
    const printer = await until(async () => (await client.call('printers.list', {})).find((p) => p.state === 'idle'), 20_000, 'printer idle');
    assert.equal(printer.id, 'vp-1');
    assert.equal(printer.name, 'PrintBox Virtual');
    assert.equal(printer.capabilities?.ADVANCED_OK, true);
    const files = new FileStore(path.join(dir, 'data', 'files'));
    const lines = ['M104 S210', ...gcodeLines(4000)];
    await files.save('crash.gcode', lines.join('\n'));
    await client.call('jobs.start', { printerId: 'vp-1', file: 'crash.gcode' });
    await assert.rejects(client.call('jobs.start', { printerId: 'vp-1', file: 'crash.gcode' }), { status: 409 });
    await until(async () => (await client.call('jobs.get', { printerId: 'vp-1' })).lines_sent > 1000, 20_000, 'progress');
    await new Promise((r) => setTimeout(r, 1200)); // past a checkpoint

    await stack.stopPrinter('SIGKILL');
    await assert.rejects(client.call('ping', {}), { status: 503 });

    await stack.startPrinter();
    const job = await until(async () => client.call('jobs.get', { printerId: 'vp-1' }), 20_000, 'job after restart');
    assert.equal(job.state, 'paused');
    assert.equal(job.reason, 'service-restart');
    assert.ok(job.lines_sent > 1000 && job.lines_sent < 4001, `progress from the checkpoint (${job.lines_sent})`);
    const active = await client.call('jobs.active', {});
    assert.equal(active.active, false, 'an interrupted job is not claimed to be printing');
    await until(async () => (await client.call('printers.get', { id: 'vp-1' })).state === 'paused', 20_000, 'reconnected');
    await client.call('jobs.resume', { printerId: 'vp-1' });
    const done = await stack.jobEnd('vp-1');
    assert.equal(done.state, 'done');
    const moves = vp.sim.executed.filter((c) => c.startsWith('G1 X') && c.includes(' E'));
    assert.deepEqual(moves.slice(-100), lines.slice(-100), 'finished the file');
    assert.ok(vp.sim.executed.includes('M109 S210'), 'recovery re-heated to the recorded temperature');
    const history = await client.call('jobs.history', {});
    assert.equal(history[0]?.state, 'done');
  } finally {
    await stack.close();
  }
});

test('a user pause survives kill -9: after the restart resume recovers the parked head (re-heat, G28 X Y, G92 Z)', { timeout: 90_000 }, async () => {
  const stack = await startPrinterStack({ tag: 'svcpark', printers: vp1 });
  const { client, until, dir } = stack;
  const vp = stack.vps['vp-1']!;
  try {
    await until(async () => (await client.call('printers.list', {})).find((p) => p.state === 'idle'), 20_000, 'printer idle');
    const files = new FileStore(path.join(dir, 'data', 'files'));
    const lines = ['M104 S210', 'G1 Z0.2 F600', ...gcodeLines(3000)];
    await files.save('parked.gcode', lines.join('\n'));
    await stack.printUntil('vp-1', 'parked.gcode', 800);
    const paused = await client.call('jobs.pause', { printerId: 'vp-1' });
    assert.equal(paused.reason, 'user');

    await stack.stopPrinter('SIGKILL');
    const cut = vp.sim.executed.length;
    await stack.startPrinter();
    await until(async () => (await client.call('printers.get', { id: 'vp-1' })).state === 'paused', 20_000, 'reconnected, job paused');
    const job = await client.call('jobs.get', { printerId: 'vp-1' });
    assert.equal(job.reason, 'reset-while-parked', 'opening the port reset the board: the park cannot simply be undone');
    await client.call('jobs.resume', { printerId: 'vp-1' });
    const done = await stack.jobEnd('vp-1');
    assert.equal(done.state, 'done');
    const after = vp.sim.executed.slice(cut);
    const home = after.indexOf('G28 X Y');
    assert.ok(home > 0, 'recovery homed X/Y');
    assert.ok(after.slice(0, home).includes('M109 S210'), 're-heated before homing');
    const tail = after.slice(home);
    assert.match(tail.find((c) => c.startsWith('G92 ')) ?? '', /^G92 Z10\.2 /, 'Z set to the parked height (0.2 + 10 mm lift)');
    assert.ok(tail.includes('G1 Z-10 F600') && tail.includes('G1 E2 F2400'), 'lowered and un-retracted');
    const moves = vp.sim.executed.filter((c) => c.startsWith('G1 X') && c.includes(' E'));
    assert.deepEqual(moves.slice(-100), lines.slice(-100), 'finished the file');
  } finally {
    await stack.close();
  }
});
