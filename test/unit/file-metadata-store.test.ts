/**
 * The file store keeps each file's metadata beside it (.meta JSON, .thumb image): stored at upload,
 * found on the first listing for files copied in by hand or stored before metadata existed, kept when
 * the printer remembers a command count, and removed with the file.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { FileStore, rememberCommandCount, storedCommandCount } from '../../services/shared/files.ts';
import { REPO, tempDir } from '../helpers/web.ts';

const fixture = (name: string) => fs.readFileSync(path.join(REPO, 'test/fixtures/gcode', name));

async function store(t: { after: (f: () => void) => void }, opts = {}): Promise<FileStore> {
  const dir = tempDir('meta-store');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const s = new FileStore(dir, opts);
  await s.init();
  return s;
}

test('an upload stores its metadata and thumbnail; the listing and thumbnail() answer from them', async (t) => {
  const s = await store(t);
  const info = await s.save('cube.gcode', fixture('prusaslicer-2.5.0-thumbnails.gcode'));
  assert.deepEqual(info.metadata.thumbnail, { width: 64, height: 48, format: 'png' });
  const [listed] = await s.list();
  assert.deepEqual(listed!.metadata, info.metadata);
  const thumb = await s.thumbnail('cube.gcode');
  assert.equal(thumb.format, 'png');
  assert.equal(fs.readFileSync(thumb.path).subarray(1, 4).toString(), 'PNG');
  assert.deepEqual(fs.readdirSync(s.dir).sort(), ['.cube.gcode.meta', '.cube.gcode.thumb', 'cube.gcode']);
});

test('a file without a thumbnail is a 404 not_found; so is a missing file', async (t) => {
  const s = await store(t);
  await s.save('plain.gcode', fixture('curaengine-4.13.0-cube.gcode'));
  await assert.rejects(s.thumbnail('plain.gcode'), { code: 'not_found', status: 404, message: 'Thumbnail not found' });
  await assert.rejects(s.thumbnail('gone.gcode'), { code: 'not_found', status: 404 });
});

test('an old .meta with only a command count still lists its count, then gains metadata in the background', async (t) => {
  let described = 0;
  const s = await store(t, { onDescribed: () => described++ });
  const full = path.join(s.dir, 'old.gcode');
  const content = fixture('prusaslicer-2.5.0-two-cubes.gcode');
  fs.writeFileSync(full, content);
  fs.writeFileSync(path.join(s.dir, '.old.gcode.meta'), JSON.stringify({ lines: 1234, size: content.length }));
  const [first] = await s.list();
  assert.equal(first!.lines, 1234);
  assert.equal(first!.metadata.slicer, null); // not read yet: every field is there, null
  await s.whenDescribed();
  assert.equal(described, 1);
  const [second] = await s.list();
  assert.equal(second!.metadata.estimated_time_s, 1492);
  assert.equal(second!.metadata.object_count, 2);
  assert.ok(second!.lines > 0);
  await s.whenDescribed();
  assert.equal(described, 1, 'a described file is not read again');
});

test('a file copied in by hand gets count and metadata on its first listing, and its thumbnail on first request', async (t) => {
  const s = await store(t);
  fs.writeFileSync(path.join(s.dir, 'hand.gcode'), fixture('cura-4.13-frontend-thumbnail.gcode'));
  fs.writeFileSync(path.join(s.dir, 'hand2.gcode'), fixture('orcaslicer-2.1.1-handcut.gcode'));
  assert.equal((await s.list())[0]!.lines, -1);
  await s.whenDescribed();
  const [hand] = await s.list();
  assert.equal(hand!.metadata.estimated_time_s, 362);
  assert.ok(hand!.lines > 0);
  // A thumbnail asked for before any listing described the file: described on the spot.
  fs.writeFileSync(path.join(s.dir, 'hand3.gcode'), fixture('prusaslicer-jpg-qoi-handcut.gcode'));
  assert.equal((await s.thumbnail('hand3.gcode')).format, 'jpg');
});

test('the printer remembering a command count keeps the metadata; a changed file is described again', async (t) => {
  const s = await store(t);
  await s.save('a.gcode', fixture('orcaslicer-2.1.1-handcut.gcode'));
  const full = path.join(s.dir, 'a.gcode');
  await rememberCommandCount(full, 13, fs.statSync(full).size);
  assert.equal(await storedCommandCount(full), 13);
  assert.equal((await s.list())[0]!.metadata.slicer, 'OrcaSlicer');
  fs.appendFileSync(full, 'G28\n');
  assert.equal((await s.list())[0]!.metadata.slicer, null, 'metadata of another size is not trusted');
  await s.whenDescribed();
  assert.equal((await s.list())[0]!.metadata.slicer, 'OrcaSlicer');
});

test('delete removes count and thumbnail; the start-up sweep removes a thumbnail whose file is gone', async (t) => {
  const s = await store(t);
  await s.save('a.gcode', fixture('prusaslicer-2.5.0-thumbnails.gcode'));
  await s.save('b.gcode', fixture('prusaslicer-2.5.0-thumbnails.gcode'));
  await s.remove('a.gcode');
  fs.rmSync(path.join(s.dir, 'b.gcode'));
  assert.deepEqual((await s.sweepSpool()).sort(), ['.b.gcode.meta', '.b.gcode.thumb']);
  assert.deepEqual(fs.readdirSync(s.dir), []);
});

test('a file that is not text is listed without metadata and never fails the listing', async (t) => {
  const s = await store(t);
  fs.writeFileSync(path.join(s.dir, 'blob.gcode'), Buffer.alloc(2 * 1024 * 1024, 0x41)); // 2 MB without a line break
  let described = 0;
  const s2 = new FileStore(s.dir, { onDescribed: () => described++ });
  const [blob] = await s2.list();
  await s2.whenDescribed();
  assert.equal(blob!.metadata.thumbnail, null);
  await assert.rejects(s2.thumbnail('blob.gcode'), { code: 'not_found' });
  await s2.list();
  await s2.whenDescribed();
  assert.equal(described, 0);
  assert.deepEqual(fs.readdirSync(s.dir), ['blob.gcode'], 'nothing stored for it, and it is not read on every listing');
});
