/**
 * Protocol layers without a port: framing, response parsing, checksums, the sender's window and
 * Marlin resend semantics (whole-buffer drop, duplicate Resend requests, lost ok → M105 poke),
 * and file-name sanitising.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sanitizeName } from '../../services/shared/files.ts';
import { checksum, numbered, parseNumbered } from '../../services/printer/protocol/gcode.ts';
import { LineSplitter } from '../../services/printer/protocol/line-splitter.ts';
import { parseResponse } from '../../services/printer/protocol/responses.ts';
import { Sender, type JobLine, type LineSource } from '../../services/printer/protocol/sender.ts';

test('numbered lines carry Marlin XOR checksums', () => {
  assert.equal(numbered(0, 'M110 N0'), 'N0 M110 N0*125\n');
  assert.equal(checksum('N1 G28'), 'N1 G28'.split('').reduce((a, c) => a ^ c.charCodeAt(0), 0));
  assert.deepEqual(parseNumbered('N7 G1 X1*' + checksum('N7 G1 X1')), { n: 7, cmd: 'G1 X1' });
  assert.equal(parseNumbered('N7 G1 X1*0'), null);
});

test('LineSplitter frames CR/LF and partial chunks', async () => {
  const s = new LineSplitter();
  const out: string[] = [];
  s.on('data', (l: string) => out.push(l));
  s.write(Buffer.from('ok\r\nT:20.0 /0'));
  s.write(Buffer.from('.0 B:21/0\nResend: 5\n'));
  s.end();
  await new Promise((r) => s.on('end', r));
  assert.deepEqual(out, ['ok', 'T:20.0 /0.0 B:21/0', 'Resend: 5']);
});

test('response parser: ADVANCED_OK, temps, resend, busy, errors, M115', () => {
  assert.deepEqual(parseResponse('ok N12 P15 B3'), { type: 'ok', lastN: 12, planner: 15, buffer: 3 });
  assert.deepEqual(parseResponse('ok T:210.5 /215.0 B:60.0 /60.0 @:127 B@:0'),
    { type: 'ok', temperatures: { T0: { actual: 210.5, target: 215 }, B: { actual: 60, target: 60 } } });
  assert.deepEqual(parseResponse(' T:20.00 /0.00 B:21.00 /0.00 @:0 B@:0'.trim()).type, 'temperatures');
  assert.deepEqual(parseResponse('Resend: 42'), { type: 'resend', line: 42 });
  assert.deepEqual(parseResponse('rs N42'), { type: 'resend', line: 42 });
  assert.equal(parseResponse('echo:busy: processing').type, 'busy');
  assert.deepEqual(parseResponse('Error:checksum mismatch, Last Line: 41'), { type: 'error', message: 'checksum mismatch, Last Line: 41', fatal: false });
  assert.equal((parseResponse('Error:Thermal Runaway, system stopped! Heater_ID: 0') as { fatal: boolean }).fatal, true);
  assert.equal((parseResponse('!! MINTEMP') as { fatal: boolean }).fatal, true);
  assert.deepEqual(parseResponse('Cap:AUTOREPORT_TEMP:1'), { type: 'capability', name: 'AUTOREPORT_TEMP', enabled: true });
  const fw = parseResponse('FIRMWARE_NAME:Marlin 2.1.2 SOURCE_CODE_URL:https://github.com/x PROTOCOL_VERSION:1.0 MACHINE_TYPE:Ender-3 EXTRUDER_COUNT:1');
  assert.equal(fw.type === 'firmware' && fw.fields.MACHINE_TYPE, 'Ender-3');
});

function source(n: number): LineSource & { lines: JobLine[] } {
  const lines = Array.from({ length: n }, (_, i) => ({ cmd: `G1 X${i}`, index: i, byteEnd: i }));
  let i = 0;
  return { lines, next: () => (i < n ? lines[i++]! : null), onReady: () => undefined };
}

test('sender: window bounded by slots + RX bytes; resend rewinds everything from N; duplicates swallowed', () => {
  const wire: string[] = [];
  const s = new Sender({ write: (d) => wire.push(d), okTimeoutMs: 60_000, rxBytes: 32 });
  s.reset();
  s.handle({ type: 'ok', buffer: 3 }); // M110 acked; ADVANCED_OK says BUFSIZE 4
  s.setSource(source(20));
  // 4 slots free of byte accounting, then lines must fit into 31 RX bytes ("N5 G1 X4*nn\n" = 12-13 bytes → 2 more).
  assert.equal(s.inFlight, 6);
  const acked: number[] = [];
  s.on('acked', (t) => { if (t.kind === 'job') acked.push(t.line.index); });
  s.handle({ type: 'ok' }); s.handle({ type: 'ok' }); // lines N1, N2 done
  assert.deepEqual(acked, [0, 1]);
  const before = wire.length;
  // Firmware lost N3 (dropped its RX buffer): Resend 3 + ok, then one duplicate per line that was on the wire.
  s.handle({ type: 'resend', line: 3 }); s.handle({ type: 'ok' });
  const again = wire.slice(before);
  assert.match(again[0]!, /^N3 G1 X2\*/, 'rewound to N3');
  assert.ok(again.every((l, i) => l.startsWith(`N${3 + i} `)), 'in order');
  const afterFirst = wire.length;
  s.handle({ type: 'resend', line: 3 }); s.handle({ type: 'ok' });
  s.handle({ type: 'resend', line: 3 }); s.handle({ type: 'ok' });
  assert.equal(wire.length, afterFirst, 'duplicate Resend: 3 requests did not rewind again');
  assert.deepEqual(acked, [0, 1], 'the oks that came with Resend acknowledged nothing');
  s.handle({ type: 'ok' });
  assert.deepEqual(acked, [0, 1, 2], 'the resent N3 is acknowledged next');
  s.stop();
});

test('sender: a lost ok is recovered by an unnumbered M105 poke after the timeout', async () => {
  const wire: string[] = [];
  const s = new Sender({ write: (d) => wire.push(d), okTimeoutMs: 50 });
  s.reset();
  await new Promise((r) => setTimeout(r, 120));
  assert.ok(wire.includes('M105\n'), 'poked');
  let drained = false;
  s.on('drained', () => { drained = true; });
  s.handle({ type: 'ok', temperatures: { T0: { actual: 20, target: 0 } } });
  assert.equal(s.inFlight, 0);
  assert.ok(drained);
  s.stop();
});

test('file names: hostile names are refused, not rewritten', () => {
  assert.equal(sanitizeName('Benchy (1).gcode'), 'Benchy (1).gcode');
  for (const bad of ['../x.gcode', 'a/b.gcode', 'a\\b.gcode', '.x.gcode', 'x.exe', '', 'a\u0000.gcode', 'x'.repeat(200) + '.gcode', '..']) {
    assert.throws(() => sanitizeName(bad), { code: 'bad_filename', status: 400 }, JSON.stringify(bad));
  }
});

test('discovery: VID:PID table, /dev/serial/by-id mapping, extra globs', async () => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { discover, isPrinterUsbId } = await import('../../services/printer/discovery.ts');
  const { createLogger } = await import('../../services/shared/log.ts');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'printbox-disc-'));
  try {
    const byId = path.join(dir, 'by-id');
    fs.mkdirSync(byId);
    fs.writeFileSync(path.join(dir, 'ttyACM0'), ''); fs.writeFileSync(path.join(dir, 'ttyUSB0'), ''); fs.writeFileSync(path.join(dir, 'ttyUSB1'), '');
    fs.symlinkSync(path.join(dir, 'ttyACM0'), path.join(byId, 'usb-Prusa_Research__prusa3d.com__Original_Prusa_i3_MK3_CZPX1234-if00'));
    fs.writeFileSync(path.join(dir, 'pty-a'), ''); fs.writeFileSync(path.join(dir, 'pty-a.tmp'), '');
    const found = await discover({
      byIdDir: byId, extra: [path.join(dir, 'pty-*')], log: createLogger({ scope: 't', level: 'error' }),
      list: async () => [
        { path: path.join(dir, 'ttyACM0'), vendorId: '2c99', productId: '0002', manufacturer: 'Prusa Research' },
        { path: path.join(dir, 'ttyUSB0'), vendorId: '1a86', productId: '7523' },
        { path: path.join(dir, 'ttyUSB1'), vendorId: '067b', productId: '2303' }, // a GPS dongle, not a printer
      ],
    });
    assert.deepEqual(found.map((c) => [c.id, path.relative(dir, c.path)]).sort(), [
      ['Prusa_Research__prusa3d.com__Original_Prusa_i3_MK3_CZPX1234', 'by-id/usb-Prusa_Research__prusa3d.com__Original_Prusa_i3_MK3_CZPX1234-if00'],
      ['pty-a', 'pty-a'],
      ['ttyUSB0', 'ttyUSB0'],
    ]);
    assert.ok(isPrinterUsbId('10C4', 'EA60') && isPrinterUsbId('0483', '5740') && !isPrinterUsbId('0483', '0001'));
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
});
