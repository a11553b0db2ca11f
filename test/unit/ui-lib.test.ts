/** The UI's pure helpers (web/src/lib): Retry-After parsing, API error mapping, display formats, the pre-upload file check. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError, errorFrom, parseRetryAfter } from '../../web/src/lib/api.ts';
import { bytes, duration, fileFacts, filament, jobReason, parking, percent, sensorName, temp } from '../../web/src/lib/format.ts';
import { EMPTY_METADATA } from '../../services/shared/gcode-meta/describe.ts';
import { notGcode } from '../../web/src/lib/upload.ts';

test('Retry-After: delta-seconds and HTTP dates (RFC 9110 §10.2.3)', () => {
  assert.equal(parseRetryAfter('42'), 42);
  assert.equal(parseRetryAfter(' 7 '), 7);
  const inOneMinute = new Date(Date.now() + 60_000).toUTCString();
  const s = parseRetryAfter(inOneMinute)!;
  assert.ok(s >= 58 && s <= 61, String(s));
  assert.equal(parseRetryAfter(new Date(Date.now() - 60_000).toUTCString()), 0);
  assert.equal(parseRetryAfter(null), undefined);
  assert.equal(parseRetryAfter('soon'), undefined);
});

test('API errors keep the contract code and message; HTML and huge bodies are not shown to users', async () => {
  const e = await errorFrom(429, JSON.stringify({ error: { code: 'too_many_attempts', message: 'Too many login attempts; try again in 8 s' } }), '8');
  assert.ok(e instanceof ApiError);
  assert.equal(e.status, 429);
  assert.equal(e.code, 'too_many_attempts');
  assert.equal(e.retryAfter, 8);
  assert.match(e.message, /try again in 8 s/);
  const html = await errorFrom(502, '<html><body>Bad gateway</body></html>', null);
  assert.equal(html.message, 'Request failed (502)');
  assert.equal(html.code, 'http_502');
  assert.equal((await errorFrom(500, 'x'.repeat(1000), null)).message, 'Request failed (500)');
  assert.equal((await errorFrom(503, 'Service Unavailable', null)).message, 'Service Unavailable');
});

test('display formats', () => {
  assert.equal(duration(3725), '1 h 2 min');
  assert.equal(duration(125), '2 min 5 s');
  assert.equal(duration(9.4), '9 s');
  assert.equal(duration(null), '—');
  assert.equal(bytes(1536), '1.5 KB');
  assert.equal(bytes(5 * 1024 * 1024), '5.0 MB');
  assert.equal(bytes(12), '12 B');
  assert.equal(percent(0.5), '50 %');
  assert.equal(percent(0.012), '1.2 %');
  assert.equal(temp(210.04), '210.0 °C');
  assert.equal(sensorName('T0'), 'Hotend');
  assert.equal(sensorName('T1'), 'Hotend 2');
  assert.equal(sensorName('B'), 'Bed');
});

test('job reasons are explained in words; a firmware error text is shown as it is', () => {
  for (const r of ['disconnect', 'service-restart', 'firmware-reset', 'reset-while-parked', 'reset-while-parking', 'resume-failed']) {
    assert.match(jobReason(r), /hom/, `${r}: tells the user that resume re-homes`);
  }
  assert.match(jobReason('user'), /parked/);
  assert.match(jobReason('emergency-stop'), /emergency stop/);
  assert.match(jobReason('firmware-error'), /firmware/);
  assert.equal(jobReason('Thermal Runaway, system stopped! Heater_ID: 0'), 'Thermal Runaway, system stopped! Heater_ID: 0');
  assert.equal(jobReason(undefined), '');
  // Parking: a user pause whose park the printer has not confirmed; older servers send no parked field.
  assert.equal(parking({ state: 'paused', reason: 'user', parked: false }), true);
  assert.equal(parking({ state: 'paused', reason: 'user', parked: true }), false);
  assert.equal(parking({ state: 'paused', reason: 'user' }), false);
  assert.equal(parking({ state: 'paused', reason: 'disconnect', parked: false }), false);
  assert.equal(parking({ state: 'printing', reason: null }), false);
  assert.equal(parking(undefined), false);
});

test('the wrong kind of file is named before any upload: models, binary G-code, other names, binary content', () => {
  const text = new TextEncoder().encode('G28\nG1 X1\n');
  assert.equal(notGcode('benchy.gcode', text), null);
  assert.equal(notGcode('BENCHY.GCO', text), null);
  assert.equal(notGcode('part.g', text), null);
  assert.match(notGcode('benchy.bgcode', text)!, /binary G-code.*Supports binary G-code/);
  assert.match(notGcode('benchy.stl', text)!, /3D model, not G-code\. Slice it first/);
  assert.match(notGcode('plate.3MF', text)!, /3D model/);
  assert.match(notGcode('notes.txt', text)!, /takes \.gcode, \.gco and \.g files/);
  assert.match(notGcode('renamed.gcode', new Uint8Array([0x47, 0x32, 0x38, 0x00, 0x01]))!, /binary data/);
});

test('file facts: slicer estimates as they are, computed ones with ≈, unknown facts left out', () => {
  assert.equal(filament(433.55), '434 mm');
  assert.equal(filament(4321), '4.32 m');
  assert.equal(filament(null), '—');
  assert.deepEqual(fileFacts({ ...EMPTY_METADATA, estimated_time_s: 741, estimate_source: 'slicer', filament_used_mm: 863.84, filament_used_g: 2.58, layer_height_mm: 0.2 }),
    ['12 min 21 s', '864 mm filament (2.58 g)', '0.2 mm layers']);
  assert.deepEqual(fileFacts({ ...EMPTY_METADATA, estimated_time_s: 3700, estimate_source: 'computed' }), ['≈ 1 h 1 min']);
  assert.deepEqual(fileFacts({ ...EMPTY_METADATA }), []);
  assert.deepEqual(fileFacts(undefined), []);
});
