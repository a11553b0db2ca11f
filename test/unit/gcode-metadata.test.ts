/**
 * The slicer metadata read during the upload check (services/shared/gcode-meta), against real slicer
 * output and hand-cut headers in test/fixtures/gcode (see its README for how each was made): every
 * value asserted here is the one the slicer wrote in the file. Broken metadata never fails the check.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { GcodeCheck } from '../../services/shared/files.ts';
import type { Description } from '../../services/shared/gcode-meta/describe.ts';
import { REPO } from '../helpers/web.ts';

const fixture = (name: string) => fs.readFileSync(path.join(REPO, 'test/fixtures/gcode', name), 'latin1');

/** Runs text through the upload check as an upload would arrive: in chunks. */
function check(text: string, chunk = 4096): { lines: number; d: Description } {
  const c = new GcodeCheck();
  for (let i = 0; i < text.length; i += chunk) c.write(text.slice(i, i + chunk));
  return { lines: c.end(), d: c.description() };
}

/** Width and height from a PNG's IHDR chunk. */
const pngSize = (b: Buffer) => [b.readUInt32BE(16), b.readUInt32BE(20)];

test('PrusaSlicer: the totals and config at the end of the file and both labelled objects are read', () => {
  const { metadata } = check(fixture('prusaslicer-2.5.0-two-cubes.gcode')).d;
  assert.deepEqual(metadata, {
    slicer: 'PrusaSlicer', slicer_version: '2.5.0',
    estimated_time_s: 24 * 60 + 52, estimate_source: 'slicer', // "; estimated printing time (normal mode) = 24m 52s"
    filament_used_mm: 863.84, filament_used_g: 2.58, layer_height_mm: 0.2, first_layer_height_mm: 0.3, nozzle_diameter_mm: 0.4,
    object_count: 2, thumbnail: null,
  });
});

test('PrusaSlicer: the largest PNG thumbnail is kept, decoded, and an unset filament density (0.00 g) is unknown', () => {
  const { d } = check(fixture('prusaslicer-2.5.0-thumbnails.gcode'));
  assert.deepEqual(d.metadata.thumbnail, { width: 64, height: 48, format: 'png' });
  assert.deepEqual(pngSize(Buffer.from(d.thumbnail!.base64, 'base64')), [64, 48]);
  assert.equal(d.metadata.estimated_time_s, 12 * 60 + 21);
  assert.equal(d.metadata.filament_used_mm, 433.55);
  assert.equal(d.metadata.filament_used_g, null);
});

test('thumbnail_JPG is served and thumbnail_QOI never (browsers cannot show it); days, percent first layer and nozzle lists are read', () => {
  const { d } = check(fixture('prusaslicer-jpg-qoi-handcut.gcode'), 7);
  assert.deepEqual(d.metadata.thumbnail, { width: 64, height: 48, format: 'jpg' });
  assert.equal(Buffer.from(d.thumbnail!.base64, 'base64').readUInt16BE(0), 0xffd8);
  assert.equal(d.metadata.estimated_time_s, 86400 + 2 * 3600 + 3 * 60 + 4);
  assert.equal(d.metadata.first_layer_height_mm, 0.225); // 150 % of 0.15
  assert.equal(d.metadata.nozzle_diameter_mm, 0.6);
  assert.equal(d.metadata.slicer_version, '2.6.1+linux-x64-GTK3');
});

test('CuraEngine on its own: the unfilled header template is ignored; time from ;TIME_ELAPSED, filament from the moves', () => {
  const { metadata, computedTimeS } = check(fixture('curaengine-4.13.0-cube.gcode')).d;
  assert.equal(metadata.slicer, 'Cura');
  assert.equal(metadata.slicer_version, '4.13.0');
  assert.equal(metadata.estimated_time_s, 362); // last ";TIME_ELAPSED:362.420619", not ";TIME:6666"
  assert.equal(metadata.estimate_source, 'slicer');
  assert.equal(metadata.layer_height_mm, 0.2);
  assert.equal(metadata.first_layer_height_mm, 0.3); // from the first extruding move
  assert.equal(metadata.object_count, 1); // ";MESH:cube10.stl"
  // "Filament used: 0m" is a placeholder; the net extrusion of the moves stands in (the final retraction is subtracted).
  assert.ok(Math.abs(metadata.filament_used_mm! - 130.61) < 0.01, String(metadata.filament_used_mm));
  assert.ok(computedTimeS! > 0);
});

test('Cura frontend header and its Create Thumbnail block ("; thumbnail begin 32 32 LEN") are read', () => {
  const { metadata } = check(fixture('cura-4.13-frontend-thumbnail.gcode')).d;
  assert.equal(metadata.estimated_time_s, 362);
  assert.equal(metadata.filament_used_mm, 136.11); // ";Filament used: 0.136114m"
  assert.deepEqual(metadata.thumbnail, { width: 32, height: 32, format: 'png' });
});

test('OrcaSlicer, Simplify3D (CRLF) and ideaMaker headers give their values', () => {
  assert.deepEqual(check(fixture('orcaslicer-2.1.1-handcut.gcode')).d.metadata, {
    slicer: 'OrcaSlicer', slicer_version: '2.1.1', estimated_time_s: 42 * 60 + 7, estimate_source: 'slicer', filament_used_mm: 1234.56,
    filament_used_g: 3.7, layer_height_mm: 0.2, first_layer_height_mm: 0.25, nozzle_diameter_mm: 0.4, object_count: 3,
    thumbnail: { width: 48, height: 48, format: 'png' },
  });
  assert.deepEqual(check(fixture('simplify3d-4.1.2-handcut.gcode'), 5).d.metadata, {
    slicer: 'Simplify3D', slicer_version: '4.1.2', estimated_time_s: 3720, estimate_source: 'slicer', filament_used_mm: 1234.5,
    filament_used_g: 3.68, layer_height_mm: 0.2, first_layer_height_mm: 0.25, nozzle_diameter_mm: 0.4, object_count: null, thumbnail: null,
  });
  const idea = check(fixture('ideamaker-4.2.1-handcut.gcode')).d.metadata;
  assert.deepEqual([idea.slicer, idea.slicer_version, idea.estimated_time_s, idea.filament_used_mm, idea.first_layer_height_mm, idea.layer_height_mm, idea.object_count],
    ['ideaMaker', '4.2.1.5190', 3723, 1500.25, 0.3, 0.15, 2]);
});

/** Removes what a slicer says about time and filament, leaving the moves. */
const withoutEstimates = (t: string) => t.replace(/^;\s*(estimated printing time.*|TIME:.*|TIME_ELAPSED:.*|filament used.*|total filament.*)$/gm, ';');

test('without a slicer estimate the time is computed from the moves, within 6 % of the slicer\'s own on real output', (t) => {
  for (const [name, slicer] of [['prusaslicer-2.5.0-two-cubes.gcode', 1492], ['curaengine-4.13.0-cube.gcode', 362]] as const) {
    const { metadata } = check(withoutEstimates(fixture(name))).d;
    assert.equal(metadata.estimate_source, 'computed');
    const error = (metadata.estimated_time_s! - slicer) / slicer;
    t.diagnostic(`${name}: computed ${metadata.estimated_time_s} s, slicer ${slicer} s, error ${(error * 100).toFixed(1)} %`);
    assert.ok(Math.abs(error) < 0.06, `${name}: ${metadata.estimated_time_s} s vs ${slicer} s`);
    assert.ok(metadata.filament_used_mm! > 0);
  }
});

test('a file with no slicer header has null fields but a computed estimate; the command count is unchanged', () => {
  const text = 'G90\nM82\nG28\nG92 E0\nG1 Z0.2 F600\nG1 X100 Y0 E5 F6000\nG1 X100 Y100 E10\nG4 S2\n';
  const { lines, d } = check(text);
  assert.equal(lines, 8);
  assert.equal(d.metadata.slicer, null);
  assert.equal(d.metadata.layer_height_mm, null);
  assert.equal(d.metadata.estimate_source, 'computed');
  // 200 mm at 100 mm/s with 1500 mm/s² ramps (a 90° corner slows to 10 mm/s), a 2 s dwell, the Z move
  assert.ok(d.metadata.estimated_time_s! >= 4 && d.metadata.estimated_time_s! <= 5, String(d.metadata.estimated_time_s));
  assert.equal(d.metadata.filament_used_mm, 10);
  assert.equal(d.metadata.first_layer_height_mm, 0.2);
});

test('broken thumbnails are dropped, never the upload: truncated, wrong length, bad base64, CRLF', () => {
  const good = fixture('prusaslicer-2.5.0-thumbnails.gcode');
  const big = /; thumbnail begin 64x48 (\d+)/.exec(good)!;
  const cases: Record<string, string> = {
    // the file ends inside the block (a cut file; G28 first so the check has a command to accept)
    truncated: `G28\n${good.slice(0, good.indexOf('; thumbnail end', big.index))}`,
    'end marker missing': good.replace(/(; thumbnail begin 64x48[^]*?); thumbnail end\n/, '$1'),
    'declared too long': good.replace(big[0], `; thumbnail begin 64x48 ${Number(big[1]) + 4}`),
    'declared too short': good.replace(big[0], `; thumbnail begin 64x48 ${Number(big[1]) - 4}`),
    'bad base64': good.replace(/(; thumbnail begin 64x48 \d+\n; )(....)/, '$1!!!!'),
    'bad padding': good.replace(/(; thumbnail begin 64x48 \d+\n; )(....)/, '$1A==A'),
    'not a PNG': good.replace(/(; thumbnail begin 64x48 \d+\n; )(....)/, '$1AAAA'),
  };
  for (const [what, text] of Object.entries(cases)) {
    const { d } = check(text);
    // the 16x16 block before it is still good (the truncated file keeps it too)
    assert.deepEqual(d.metadata.thumbnail, { width: 16, height: 16, format: 'png' }, what);
    assert.equal(d.metadata.slicer, 'PrusaSlicer', what);
  }
  const crlf = check(good.replace(/\n/g, '\r\n'), 3).d.metadata;
  assert.deepEqual(crlf, check(good).d.metadata);
});

test('thumbnails beyond 1 MB of base64 are refused at their header, before any of their data is kept', () => {
  const line = '; ' + 'A'.repeat(76) + '\n';
  const huge = `; thumbnail begin 900x900 1500000\n${line.repeat(10)}; thumbnail end\nG28\n`;
  assert.equal(check(huge).d.metadata.thumbnail, null);
  // A block that keeps going past its declared length is cut off as soon as it does.
  const endless = `; thumbnail begin 10x10 80\n${line.repeat(20_000)}G28\n`;
  assert.equal(check(endless).d.metadata.thumbnail, null);
});

test('a 20 MB file whose thumbnail block never ends is described with bounded memory', () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const block = `; thumbnail begin 300x300 1000000\n${('; ' + 'QUFB'.repeat(19) + '\n').repeat(1000)}`;
  const moves = Array.from({ length: 2000 }, (_, i) => `G1 X${i % 200} Y${(i * 7) % 200} E${(i * 0.01).toFixed(3)} F3000`).join('\n') + '\n';
  const c = new GcodeCheck();
  gc();
  const before = process.memoryUsage().heapUsed;
  let size = 0;
  c.write(block);
  while (size < 20 * 1024 * 1024) { c.write(block); c.write(moves); size += block.length + moves.length; }
  const lines = c.end();
  const d = c.description();
  gc();
  const grown = process.memoryUsage().heapUsed - before;
  assert.ok(lines > 100_000);
  assert.equal(d.metadata.thumbnail, null);
  assert.ok(d.metadata.estimated_time_s! > 0);
  assert.ok(grown < 8 * 1024 * 1024, `heap grew ${grown} bytes`);
});
