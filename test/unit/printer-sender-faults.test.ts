/**
 * The sender against scripted firmware transcripts (each response goes through parseResponse, as from
 * the port): lost oks while autoreports arrive, long-running commands, busy keepalives, resend requests
 * that repeat or point outside what is in flight or at lines duplicated oks confirmed, the ok of an unnumbered command, error classification.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseResponse } from '../../services/printer/protocol/responses.ts';
import { Sender, type JobLine, type LineSource, type SenderOptions } from '../../services/printer/protocol/sender.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function source(n: number): LineSource {
  const lines: JobLine[] = Array.from({ length: n }, (_, i) => ({ cmd: `G1 X${i}`, index: i, byteEnd: i }));
  let i = 0;
  return { next: () => (i < n ? lines[i++]! : null), onReady: () => undefined };
}

function rig(opts: Partial<SenderOptions> = {}) {
  const wire: string[] = [];
  const s = new Sender({ write: (d) => wire.push(d), okTimeoutMs: 60_000, ...opts });
  const acked: number[] = [];
  const failed: Array<{ code: string; message: string }> = [];
  s.on('acked', (t) => { if (t.kind === 'job') acked.push(t.line.index); });
  s.on('failed', (f) => failed.push(f));
  const say = (...lines: string[]) => { for (const l of lines) s.handle(parseResponse(l)); };
  s.reset();
  say('ok N0 P15 B3');
  return { s, wire, acked, failed, say };
}

test('lost ok: temperature autoreports every 10 ms do not hold off the M105 poll', async () => {
  const { s, wire, say } = rig({ okTimeoutMs: 60 });
  s.command('G1 X1');
  const t = setInterval(() => say('T:20.00 /0.00 B:21.00 /0.00 @:0 B@:0'), 10);
  await sleep(250);
  clearInterval(t);
  assert.ok(wire.includes('M105\n'), 'polled although the firmware kept talking');
  s.stop();
});

test('lost oks: the ok T: answering the poll settles every line sent before it, and the window is whole again', async () => {
  const { s, wire, acked, say } = rig({ okTimeoutMs: 50 });
  let drained = false;
  s.on('drained', () => { drained = true; });
  s.setSource(source(3));
  s.setSource(null); // nothing more to come: drained fires once the three are confirmed
  await sleep(120);
  assert.ok(wire.includes('M105\n'));
  say('ok T:20.00 /0.00 B:21.00 /0.00 @:0 B@:0');
  assert.deepEqual(acked, [0, 1, 2]);
  assert.equal(s.inFlight, 0);
  assert.ok(drained);
  s.stop();
});

test('long-running commands (G28, G29, M109 …) wait longer; busy keepalives extend the wait; the polls are bounded', async () => {
  const { s, wire, failed, say } = rig({ okTimeoutMs: 40, longOkTimeoutMs: 250, maxPolls: 2 });
  s.command('G28');
  await sleep(150);
  assert.ok(!wire.includes('M105\n'), 'no poll while G28 may still be homing');
  for (let i = 0; i < 4; i++) { await sleep(80); say('echo:busy: processing'); }
  assert.ok(!wire.includes('M105\n'), 'busy keepalives kept it waiting');
  await sleep(1200); // 250 ms to the first poll, then each poll waits again: 2 polls, then give up
  assert.equal(wire.filter((l) => l === 'M105\n').length, 2);
  assert.equal(failed[0]?.code, 'no_response');
  assert.match(failed[0]!.message, /stopped acknowledging/);
  s.stop();
});

test('a repeated resend request after a checksum error is answered, not swallowed as a duplicate', async () => {
  const { s, wire, say } = rig({ okTimeoutMs: 50 });
  s.setSource(source(10));
  say('Error:checksum mismatch, Last Line: 2', 'Resend: 3', 'ok');
  const first = wire.length;
  // The resent N3 was damaged again: a real second request for the same line. Copies of the last burst may
  // still be in the firmware's RX buffer, so it is answered once N3 is not confirmed by the ok timeout.
  say('Error:checksum mismatch, Last Line: 2', 'Resend: 3', 'ok');
  await sleep(80);
  assert.ok(wire.length > first, 'answered');
  assert.match(wire[first]!, /^N3 G1 X2\*/, 'by resending N3, not by a poll whose ok would confirm it');
  s.stop();
});

test('a line rejected again and again: the sender gives up with an error after a bounded number of repeats', async () => {
  const { s, failed, say } = rig({ okTimeoutMs: 30, maxResends: 4 });
  s.setSource(source(10));
  for (let i = 0; i < 6 && !failed.length; i++) { say('Error:checksum mismatch, Last Line: 2', 'Resend: 3', 'ok'); await sleep(70); }
  assert.equal(failed[0]?.code, 'resend_limit');
  assert.match(failed[0]!.message, /line 3/);
  s.stop();
});

test('a resend request for a line never sent stops with an error and resends nothing', () => {
  const { s, wire, failed, say } = rig();
  s.setSource(source(5));
  const before = wire.length;
  say('Error:Line Number is not Last Line Number+1, Last Line: 98', 'Resend: 99', 'ok');
  assert.equal(wire.length, before, 'nothing resent');
  assert.equal(failed[0]?.code, 'resend_unknown');
});

test('a resend request for a line already confirmed (numbering reset behind our back) stops with an error', () => {
  const { s, wire, acked, failed, say } = rig();
  s.setSource(source(100));
  for (let i = 0; i < 60; i++) say('ok');
  assert.equal(acked.length, 60);
  const before = wire.length;
  say('Error:Line Number is not Last Line Number+1, Last Line: 0', 'Resend: 1', 'ok');
  assert.equal(wire.length, before, 'G28 and the start G-code are not replayed');
  assert.equal(failed[0]?.code, 'line_numbering');
});

test('plain oks duplicated: a resend request for one of the last confirmed lines takes them back and resends from it', () => {
  const { s, wire, acked, failed, say } = rig();
  s.setSource(source(100));
  for (let i = 0; i < 40; i++) say('ok');
  say('ok', 'ok'); // one real ok and a duplicate: line 41 (N42) counted although the firmware only ran 40
  assert.equal(acked.length, 42);
  const before = wire.length;
  say('Error:checksum mismatch, Last Line: 41', 'Resend: 42', 'ok');
  assert.equal(failed.length, 0, 'not taken for a reset numbering');
  assert.match(wire[before] ?? '', /^N42 G1 X41\*/, 'resent from the line the firmware asked for');
  say(...Array.from({ length: 59 }, () => 'ok'));
  assert.deepEqual([...new Set(acked)], Array.from({ length: 100 }, (_, i) => i), 'every line confirmed, the taken-back ones again');
});

test('M110 in the job renumbers: it waits for the lines before it, and later lines count from its N', () => {
  const { s, wire, say } = rig();
  const lines = ['G28', 'M110 N0', 'G1 X1'].map((cmd, index) => ({ cmd, index, byteEnd: index }));
  let i = 0;
  s.setSource({ next: () => lines[i++] ?? null, onReady: () => undefined });
  assert.match(wire.at(-1)!, /^N1 G28\*/, 'M110 is held until G28 is confirmed');
  say('ok');
  assert.match(wire.at(-1)!, /^N0 M110 N0\*/);
  say('ok');
  assert.match(wire.at(-1)!, /^N1 G1 X1\*/);
  s.stop();
});

test('the ok of an unnumbered M108 is not counted against a job line', () => {
  const { s, acked, say } = rig({ rxBytes: 1 }); // one line in flight at a time
  s.setSlots(1);
  s.setSource(source(3));
  s.unnumbered('M108');
  say('ok'); // line 0
  say('ok'); // M108
  assert.deepEqual(acked, [0], 'line 1 is not confirmed by the ok of M108');
  say('ok');
  assert.deepEqual(acked, [0, 1]);
  s.stop();
});

test("error classification: probing failures, Repetier line errors and RepRapFirmware command rejections do not halt; kill() and heater faults do", () => {
  const fatal = (l: string) => { const r = parseResponse(l); return r.type === 'error' && r.fatal; };
  assert.equal(fatal('Error:Probing Failed'), false);
  assert.equal(fatal('Error:expected line 5 got 7'), false);
  assert.equal(fatal('Error:Printer halted. kill() called!'), true);
  assert.equal(fatal('Error:MINTEMP triggered, system stopped! Heater_ID: bed'), true);
  // RepRapFirmware refuses one command and goes on; its heater faults still halt
  assert.equal(fatal('Error: G1: insufficient axes homed'), false);
  assert.equal(fatal('Error: M104: heater 5 does not exist'), false);
  assert.equal(fatal('Error: Heater 1 fault: temperature rising much more slowly than the expected 2.1°C/sec'), true);
});
