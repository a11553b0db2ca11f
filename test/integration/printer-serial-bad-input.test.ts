/**
 * Bad input on the serial side, against the independent Marlin model (test/helpers/marlin-model) on a pty and
 * the real printer service: garbage from the board, a file line longer than the firmware reads, a firmware that
 * asks for the same line forever, and a port that disappears in the middle of a resend. In each the printer
 * ends in a clear state with a message, a job is failed or paused (never marked done unless every line ran once)
 * and the service goes on: the next print works.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { createModelRig, type ModelRig } from '../helpers/marlin-model/rig.ts';
import { gcodeLines } from '../helpers/virtual-printer.ts';

const moves = (executed: string[]) => executed.filter((c) => c.startsWith('G1 X'));
const notifications = (rig: ModelRig) => rig.events.flatMap((e) => (e.event === 'notification' ? [e.data.text] : []));

/** Afterwards the same service prints a short file to the end: nothing was left wedged. */
async function printsAgain(rig: ModelRig): Promise<void> {
  const printer = await rig.idle();
  const lines = gcodeLines(60).map((l) => l.replace('G1 X', 'G1 X1'));
  await rig.files.save('after.gcode', lines.join('\n') + '\n');
  const cut = rig.model.executed.length;
  await printer.start('after.gcode');
  const job = await rig.jobEnd(printer.id, 30_000);
  assert.equal(job.state, 'done', 'the next print runs');
  assert.deepEqual(moves(rig.model.executed.slice(cut)), lines);
}

/** Bytes no firmware message starts with: no letters (`ok`, `Error`, `Resend`, `start`), no `!!`, no newline. */
function noise(n: number, seed: number): string {
  let x = seed;
  let out = '';
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const b = x % 2 ? 0x80 + (x >> 8) % 128 : 0x22 + (x >> 8) % 14;
    out += String.fromCharCode(b);
  }
  return out;
}

test('garbage from the board mid-print (binary, NULs, ANSI, a 5 KB line, a mangled ok): every line runs once and the job ends done', { timeout: 60_000 }, async () => {
  const rig = await createModelRig({ latencyMs: 1 }, { okTimeoutMs: 400 });
  try {
    const printer = await rig.idle();
    const lines = gcodeLines(2000);
    await rig.files.save('noise.gcode', lines.join('\n') + '\n');
    const junk = ['\x00\x00\x00\xff\xfe\xfd', '\x1b[31m\x1b[2J\x1b[0m', noise(5000, 7), 'o\x00k', noise(40, 3) + '\r' + noise(40, 4), '\xff'.repeat(300)];
    let i = 0;
    const timer = setInterval(() => {
      rig.model.say(junk[i++ % junk.length]!);
      if (i === 3) rig.model.inject('dropOk', () => true); // one real ok lost, "o\0k" seen instead
    }, 40);
    await printer.start('noise.gcode');
    const job = await rig.jobEnd(printer.id, 50_000).finally(() => clearInterval(timer));
    assert.ok(i >= junk.length, `garbage was sent (${i} bursts)`);
    assert.equal(job.state, 'done', `${job.state} ${job.reason ?? ''} ${printer.error ?? ''}`);
    assert.deepEqual(moves(rig.model.executed), lines, 'every line once, in order');
    assert.equal(printer.info().state, 'idle');
    assert.equal(printer.info().error, undefined);
  } finally { await rig.close(); }
});

test('a file line longer than the firmware reads (copied into the store, past the upload check): the job fails there with the reason, the line is never sent, heaters off, the printer stays usable', { timeout: 60_000 }, async () => {
  const rig = await createModelRig({ latencyMs: 1 }, { okTimeoutMs: 400 });
  try {
    const printer = await rig.idle();
    const before = gcodeLines(200);
    const long = `M117 ${'x'.repeat(110)}`;
    fs.writeFileSync(rig.files.path('long.gcode'), [...before, long, ...gcodeLines(100).map((l) => l.replace('G1 X', 'G1 X9'))].join('\n') + '\n');
    const cut = rig.model.executed.length;
    await printer.start('long.gcode');
    const job = await rig.jobEnd(printer.id, 30_000);
    assert.equal(job.state, 'failed');
    assert.equal(job.reason, 'line-too-long');
    await rig.waitFor(() => rig.model.executed.includes('M107'), 5000, 'fan off');
    const ran = rig.model.executed.slice(cut).filter((c) => !/^M105\b/.test(c));
    assert.deepEqual(ran, [...before, 'M104 T0 S0', 'M140 S0', 'M107'], 'the lines before it ran, then heaters and fan off; nothing after it');
    assert.ok(!rig.model.transcript.some((l) => l.includes('xxxxxxxxxx')), 'the long line never reached the wire');
    assert.equal(rig.model.stats.lineErrors, 0, 'no resend storm');
    assert.ok(notifications(rig).some((t) => /Command 201 of the file is \d+ bytes long.*at most 96/.test(t)), notifications(rig).join(' | '));
    assert.equal(printer.info().state, 'idle');
    await printsAgain(rig);
  } finally { await rig.close(); }
});

test('a firmware that answers every line with `Resend:` for the same number forever: the job fails after a bounded number of requests with a message, nothing past it runs, a reconnect brings the printer back', { timeout: 60_000 }, async () => {
  const rig = await createModelRig({ latencyMs: 1 }, { okTimeoutMs: 300 });
  try {
    const printer = await rig.idle();
    const lines = gcodeLines(400);
    await rig.files.save('stuck.gcode', lines.join('\n') + '\n');
    for (let k = 0; k < 500; k++) rig.model.inject('corruptByte', (cmd) => cmd === lines[99]);
    await printer.start('stuck.gcode');
    const job = await rig.jobEnd(printer.id, 40_000);
    assert.equal(job.state, 'failed');
    assert.equal(job.reason, 'resend-failed');
    const info = printer.info();
    assert.equal(info.state, 'error');
    assert.match(info.error ?? '', /rejected line \d+ 11 times in a row/);
    assert.deepEqual(moves(rig.model.executed), lines.slice(0, 99), 'everything before the rejected line ran once, nothing after it');
    const asked = rig.model.transcript.filter((l) => /^< Resend: /.test(l));
    assert.ok(asked.length >= 11 && new Set(asked).size === 1, `asked for one line again and again (${asked.length})`);
    await printer.reconnect();
    await printsAgain(rig);
  } finally { await rig.close(); }
});

test('the port disappears in the middle of a resend: the job pauses (disconnect) at its last confirmed line; after the replug resume finishes it', { timeout: 90_000 }, async () => {
  const rig = await createModelRig({ latencyMs: 2, homeMs: 200 }, { okTimeoutMs: 400 });
  try {
    const printer = await rig.idle();
    const lines = ['M104 S200', 'G1 Z0.3 F600', ...gcodeLines(3000)];
    await rig.files.save('cut.gcode', lines.join('\n') + '\n');
    const first = rig.model;
    first.inject('corruptByte', (cmd) => cmd === lines[1500]);
    const say = first.say.bind(first);
    let pulled = false;
    first.say = (line: string) => { say(line); if (!pulled && /^Resend: /.test(line)) { pulled = true; void rig.unplug(); } };
    await printer.start('cut.gcode');
    const paused = await rig.waitFor(() => { const i = printer.info(); return i.job?.state === 'paused' && i; }, 30_000, 'paused by the unplug');
    assert.ok(pulled, 'unplugged right after the firmware asked for a resend');
    assert.equal(paused.job!.reason, 'disconnect');
    assert.ok(paused.job!.lines_sent >= 1400 && paused.job!.lines_sent <= 1501, `resume point at the last confirmed line (${paused.job!.lines_sent})`);
    const done = moves(first.executed);
    assert.deepEqual(done, moves(lines).slice(0, done.length), 'the first board ran a prefix of the file');

    await rig.replug();
    await rig.waitFor(() => printer.info().state === 'paused', 15_000, 'reconnected, job still paused');
    await printer.resume();
    const job = await rig.jobEnd(printer.id, 60_000);
    assert.equal(job.state, 'done');
    const rest = moves(rig.model.executed).filter((c) => c.includes(' E')); // not the resume's travel back
    const all = moves(lines);
    assert.deepEqual(rest, all.slice(all.length - rest.length), 'the second board ran the rest of the file, in order');
    assert.ok(done.length + rest.length >= all.length, `no line lost (${done.length} + ${rest.length} of ${all.length})`);
  } finally { await rig.close(); }
});
