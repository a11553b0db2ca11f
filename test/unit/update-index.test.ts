/** The update server's index: what is offered to which device, and every problem of a bad index listed. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppError } from '../../services/shared/errors.ts';
import { isDowngrade, newestFor, parseIndex } from '../../services/shared/update-index.ts';

const FROM = 'https://updates.example/stable/index.json';
const rel = (version: string, extra: Record<string, unknown> = {}) => ({
  version, compatible: 'printbox-rpi-arm64', url: `printbox-${version}-arm64.raucb`, size: 1000, sha256: 'ab'.repeat(32), ...extra,
});

test('bundle URLs are read relative to the index; notes and dates are optional', () => {
  const idx = parseIndex({ format: 1, channel: 'stable', releases: [rel('0.2.0', { notes: 'Faster uploads', released: '2026-12-01' }), rel('0.3.0', { url: 'https://cdn.example/x.raucb' })] }, FROM);
  assert.equal(idx.channel, 'stable');
  assert.equal(idx.releases[0]!.url, 'https://updates.example/stable/printbox-0.2.0-arm64.raucb');
  assert.equal(idx.releases[0]!.notes, 'Faster uploads');
  assert.equal(idx.releases[1]!.url, 'https://cdn.example/x.raucb');
  assert.equal(idx.releases[1]!.notes, '');
});

test('a bad index is refused with every problem listed', () => {
  assert.throws(() => parseIndex({ format: 2, channel: 'Stable!', releases: [rel('1.0'), rel('0.2.0', { url: 'ftp://x/y', size: -1, sha256: 'zz' }), 'x', rel('0.4.0'), rel('0.4.0')] }, FROM), (e: AppError) => {
    assert.equal(e.code, 'update_index_invalid');
    assert.equal(e.status, 502);
    assert.deepEqual(e.details?.errors, [
      'format must be 1 (this device reads index format 1 only), got 2',
      'channel must be a short lower-case name',
      'releases[0].version "1.0" is not a semantic version (1.2.3 or 1.2.3-beta.1)',
      'releases[1].url must be http or https',
      'releases[1].size must be a positive whole number of bytes',
      'releases[1].sha256 must be 64 hex digits',
      'releases[2] must be an object',
      'version 0.4.0 for printbox-rpi-arm64 is listed twice',
    ]);
    assert.match(e.message, /^The update index at https:\/\/updates\.example\/stable\/index\.json is not valid: format must be 1 .*\(and 5 more\)$/);
    return true;
  });
  assert.throws(() => parseIndex([], FROM), (e: AppError) => e.code === 'update_index_invalid');
});

test('the newest release for this device\'s compatible string that is newer than what runs', () => {
  const idx = parseIndex({
    format: 1, channel: 'beta', releases: [
      rel('0.2.0'), rel('0.10.0'), rel('0.9.1'), rel('0.11.0-beta.2'), rel('0.11.0-beta.10'), rel('9.0.0', { compatible: 'printbox-x86' }),
    ],
  }, FROM);
  assert.equal(newestFor(idx, 'printbox-rpi-arm64', '0.9.1')?.version, '0.11.0-beta.10', 'numeric order, pre-release identifiers too');
  assert.equal(newestFor(idx, 'printbox-rpi-arm64', '0.11.0'), undefined, 'a release is newer than its betas');
  assert.equal(newestFor(idx, 'printbox-other', '0.1.0'), undefined, 'never a bundle for another board family');
  assert.ok(isDowngrade('0.10.0', '0.9.1'));
  assert.ok(!isDowngrade('0.9.1', '0.10.0'));
});
