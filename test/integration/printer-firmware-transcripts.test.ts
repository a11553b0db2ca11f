/**
 * Real-firmware behaviours, one named test per firmware, each against the independent firmware model
 * (test/helpers/marlin-model) speaking that firmware's forms over a pty to the real printer service. The
 * flavour's source is named in test/helpers/marlin-model/flavours.ts; the model records the conversation
 * (`> ` host, `< ` firmware) and every command that entered the planner.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { marlin1Creality, prusaMk3, rrf, smoothie } from '../helpers/marlin-model/flavours.ts';
import { createModelRig, type ModelRig } from '../helpers/marlin-model/rig.ts';
import type { ModelOptions } from '../helpers/marlin-model/model.ts';
import { gcodeLines } from '../helpers/virtual-printer.ts';

const said = (rig: ModelRig, re: RegExp) => rig.model.transcript.filter((l) => l.startsWith('< ') && re.test(l.slice(2)));

async function print(rig: ModelRig, file: string[], ms = 60_000) {
  const printer = await rig.idle();
  await rig.files.save('t.gcode', file.join('\n') + '\n');
  const cut = rig.model.executed.length;
  await printer.start('t.gcode');
  const job = await rig.jobEnd(printer.id, ms);
  const ran = rig.model.executed.slice(cut).filter((c) => !/^M105\b/.test(c));
  return { printer, job, ran };
}

test('Marlin 2.1.x (queue.cpp, gcode.cpp): ADVANCED_OK, busy, Resend + stray ok, line errors, Unknown command, wait, M110 in flight', { timeout: 60_000 }, async () => {
  const opts: Partial<ModelOptions> = { advancedOk: true, keepaliveMs: 300, homeMs: 1000, noTimeoutsMs: 300 };
  const rig = await createModelRig(opts, { okTimeoutMs: 500 });
  try {
    const moves = gcodeLines(1200);
    const file = ['G28', ...moves.slice(0, 400), 'G999 ; not a Marlin command', ...moves.slice(400, 800), 'M110 N0', ...moves.slice(800)];
    rig.model.inject('corruptByte', (c) => c === moves[200]);
    rig.model.inject('dropByte', (c) => c === moves[600]);
    await rig.idle();
    await new Promise((r) => setTimeout(r, 700)); // idle: NO_TIMEOUTS `wait` lines
    const { job, ran } = await print(rig, file);
    assert.equal(job.state, 'done', job.reason);
    assert.deepEqual(ran, file.map((l) => l.replace(/\s*;.*$/, '')), 'every line ran once, in order, M110 and the unknown command included');
    assert.ok(said(rig, /^wait$/).length > 0, 'idle wait lines');
    assert.ok(said(rig, /^echo:busy: processing$/).length >= 2, 'busy keepalive while G28 ran');
    assert.ok(said(rig, /^ok N\d+ P\d+ B\d+$/).length > 1000, 'ADVANCED_OK oks');
    assert.equal(said(rig, /^echo:Unknown command: "G999"$/).length, 1);
    // Which error a damaged line gets depends on the byte hit: the N digits (out of sequence) or the rest.
    const lineErrors = said(rig, /^Error:(checksum mismatch|Line Number is not Last Line Number\+1|No Checksum with line number), Last Line: \d+$/);
    assert.ok(lineErrors.length >= 2, `both damaged lines were rejected: ${lineErrors.join(' | ')}`);
    const t = rig.model.transcript;
    const rs = t.findIndex((l) => /^< Resend: \d+$/.test(l));
    assert.equal(t[rs + 1], '< ok', 'Resend: is followed by its stray ok');
    assert.equal(rig.model.droppedBytes, 0);
  } finally { await rig.close(); }
});

test('Marlin 1.1.9 on a Creality board: no ADVANCED_OK, no Cap: lines, reset on open — nothing is sent before `start`', { timeout: 60_000 }, async () => {
  const rig = await createModelRig({ flavour: marlin1Creality, bootMs: 1500, heatPerS: 100 }, { okTimeoutMs: 500 });
  try {
    const file = ['M104 S200', 'M109 S200', ...gcodeLines(800)];
    rig.model.inject('corruptByte', (c) => c.startsWith('G1 X100.5 '));
    const { printer, job, ran } = await print(rig, file);
    assert.equal(job.state, 'done', job.reason);
    assert.deepEqual(ran, file);
    const t = rig.model.transcript;
    assert.ok(t.indexOf('> M110 N0') > t.lastIndexOf('< start'), 'the first line the firmware read came after its last `start`');
    assert.deepEqual(printer.capabilities, {}, 'no Cap: lines: no autoreport, no ADVANCED_OK assumed');
    assert.ok(rig.model.executed.includes('M105'), 'temperatures polled with M105 instead');
    assert.ok(said(rig, /^T:\d+\.\d E:0 W:\?$/).length >= 1, 'M109 heating reports (Marlin 1.1 prints them while it waits)');
    assert.equal(printer.name, 'Ender-3');
  } finally { await rig.close(); }
});

test('Prusa-Firmware 3.13 MK3S: `echo:enqueing`, T: inside ok, then `Error:Printer halted. kill() called!` fails the job', { timeout: 60_000 }, async () => {
  const rig = await createModelRig({ flavour: prusaMk3, heatPerS: 100 }, { okTimeoutMs: 500 });
  try {
    const { printer, job, ran } = await print(rig, ['M104 S215', 'M109 S215', ...gcodeLines(500)]);
    assert.equal(job.state, 'done', job.reason);
    assert.equal(ran.length, 502);
    assert.ok(said(rig, /^echo:enqueing "G1 X/).length >= 500, 'every queued command echoed');
    assert.equal(printer.temperatures.T0?.target, 215, 'read from `ok T:… T0:… P:… A:…`');
    assert.ok(said(rig, /^T:\d+\.\d E:0 W:\?$/).length >= 1, 'M109 waiting reports');
    await rig.files.save('k.gcode', gcodeLines(3000).join('\n'));
    await printer.start('k.gcode');
    await rig.waitFor(() => (printer.job?.lines_sent ?? 0) > 300, 10_000, 'progress');
    rig.model.kill();
    const failed = await rig.jobEnd(printer.id, 10_000);
    assert.equal(failed.state, 'failed');
    assert.equal(printer.state, 'error');
    assert.match(printer.error ?? '', /Printer halted\. kill\(\) called!/);
  } finally { await rig.close(); }
});

test('RepRapFirmware 3.4 (Duet, Marlin emulation on USB): no reset on open, `FIRMWARE_NAME: ` with a space, `ok T:`', { timeout: 60_000 }, async () => {
  const rig = await createModelRig({ flavour: rrf }, { okTimeoutMs: 500 });
  try {
    const file = ['M140 S60', ...gcodeLines(600)];
    const { printer, job, ran } = await print(rig, file);
    assert.equal(job.state, 'done', job.reason);
    assert.deepEqual(ran, file);
    assert.equal(rig.model.stats.resets, 1, 'only the power-up: opening a native-USB port resets nothing');
    assert.match(printer.name, /^RepRapFirmware for Duet 2/);
    await rig.waitFor(() => printer.temperatures.B?.target === 60, 5000, 'the bed target read from the next `ok T:` poll');
  } finally { await rig.close(); }
});

test('Smoothieware (GcodeDispatch.cpp): `rs N<n>` with no ok after it; the job ends done with every line once and no stall', { timeout: 60_000 }, async () => {
  const rig = await createModelRig({ flavour: smoothie }, { okTimeoutMs: 400 });
  try {
    const file = gcodeLines(800);
    rig.model.inject('corruptByte', (c) => c === file[300]);
    const { job, ran } = await print(rig, file);
    assert.equal(job.state, 'done', job.reason);
    assert.deepEqual(ran, file);
    assert.ok(said(rig, /^rs N\d+$/).length >= 1, 'asked to resend');
    assert.equal(said(rig, /^Error:/).length, 0);
    const stalls = rig.events.filter((e) => e.event === 'notification' && /stopped answering/.test(e.data.text));
    assert.equal(stalls.length, 0, 'no ok is waited for after `rs`: no stall, no M105 poll to recover');
  } finally { await rig.close(); }
});

for (const [name, why] of [
  ['Thermal Runaway', 'Thermal Runaway, system stopped! Heater_ID: 0'],
  ['MAXTEMP', 'MAXTEMP triggered, system stopped! Heater_ID: 0'],
  ['MINTEMP', 'MINTEMP triggered, system stopped! Heater_ID: bed'],
  ['Printer halted', undefined],
] as const) {
  test(`Marlin 2.1.x temperature.cpp/kill(): ${name} mid-print fails the job with the firmware's words and nothing is resent into the halted board`, { timeout: 40_000 }, async () => {
    const rig = await createModelRig({}, { okTimeoutMs: 300 });
    try {
      const printer = await rig.idle();
      await rig.files.save('f.gcode', gcodeLines(3000).join('\n'));
      await printer.start('f.gcode');
      await rig.waitFor(() => (printer.job?.lines_sent ?? 0) > 300, 10_000, 'progress');
      const cut = rig.model.transcript.length;
      rig.model.kill(why);
      const job = await rig.jobEnd(printer.id, 10_000);
      assert.equal(job.state, 'failed');
      assert.equal(job.reason, 'firmware-error');
      assert.equal(printer.state, 'error');
      assert.equal(printer.error, why ?? 'Printer halted. kill() called!', "the firmware's words");
      assert.ok(rig.events.some((e) => e.event === 'printer' && e.data.state === 'error' && e.data.error === printer.error), 'the UI was told');
      await new Promise((r) => setTimeout(r, 1500)); // past several ok timeouts: polls, never resends
      const numbers = (from: number, to?: number) => rig.model.transcript.slice(from, to).flatMap((l) => /^> N(\d+) /.exec(l)?.slice(1) ?? []).map(Number);
      const before = new Set(numbers(0, cut));
      const after = numbers(cut);
      assert.ok(after.every((n) => !before.has(n)) && new Set(after).size === after.length, `no line sent twice after the halt: ${after.join(',')}`);
      assert.ok(after.length <= 12, `only lines already on their way (${after.length})`);
    } finally { await rig.close(); }
  });
}
