/**
 * Slicer metadata over the real HTTPS web: an upload of real PrusaSlicer output answers with its
 * metadata, GET /api/files lists it, GET /api/files/<name>/thumbnail serves the embedded PNG with its
 * Content-Type (404 in the AppError shape when there is none, 401 without a session), and a 20 MB
 * upload whose metadata is broken is still accepted.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { multipart, REPO, request, startWeb, tempDir, type WebServer } from '../helpers/web.ts';

let web: WebServer;
let dir = '';
const fixture = (name: string) => fs.readFileSync(path.join(REPO, 'test/fixtures/gcode', name));

before(async () => {
  dir = tempDir('files-meta');
  fs.mkdirSync(path.join(dir, 'data')); fs.mkdirSync(path.join(dir, 'run'));
  web = await startWeb({ dataDir: path.join(dir, 'data'), runDir: path.join(dir, 'run') });
});
after(async () => {
  await web?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** On the device itself (127.0.0.1): the local session, as the other file tests use. */
async function upload(name: string, content: Buffer | string) {
  const { body, headers } = multipart(name, content);
  return request(web, { method: 'POST', path: '/api/files', localAddress: '127.0.0.1', body, headers });
}

/** The raw bytes of a GET (request() decodes bodies as text). */
function getBytes(p: string): Promise<{ status: number; type: string; cache: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    https.get({ host: '127.0.0.1', port: web.httpsPort, path: p, ca: web.ca, servername: '', localAddress: '127.0.0.1',
      checkServerIdentity: () => undefined, headers: { Host: `127.0.0.1:${web.httpsPort}` } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), cache: String(res.headers['cache-control']), body: Buffer.concat(parts) }));
    }).on('error', reject);
  });
}

test('an upload answers with its metadata and the listing carries it', async () => {
  const up = await upload('cube.gcode', fixture('prusaslicer-2.5.0-thumbnails.gcode'));
  assert.equal(up.status, 201, up.text);
  const expected = {
    slicer: 'PrusaSlicer', slicer_version: '2.5.0', estimated_time_s: 741, estimate_source: 'slicer', filament_used_mm: 433.55,
    filament_used_g: null, layer_height_mm: 0.2, first_layer_height_mm: 0.3, nozzle_diameter_mm: 0.4, object_count: null,
    thumbnail: { width: 64, height: 48, format: 'png' },
  };
  assert.deepEqual(up.json.metadata, expected);
  const list = await request(web, { path: '/api/files', localAddress: '127.0.0.1' });
  const item = (list.json as unknown as Array<{ name: string; metadata: unknown }>).find((f) => f.name === 'cube.gcode');
  assert.deepEqual(item?.metadata, expected);
});

test('the thumbnail is served as image/png, byte for byte what the slicer embedded', async () => {
  const text = fixture('prusaslicer-2.5.0-thumbnails.gcode').toString('latin1');
  const block = /; thumbnail begin 64x48 \d+\n([^]*?); thumbnail end/.exec(text)![1]!;
  const png = Buffer.from(block.replace(/^; /gm, '').replace(/\n/g, ''), 'base64');
  const r = await getBytes('/api/files/cube.gcode/thumbnail');
  assert.equal(r.status, 200);
  assert.equal(r.type, 'image/png');
  assert.equal(r.cache, 'private, no-cache'); // a later upload under the same name must show its own image
  assert.deepEqual(r.body, png);
});

test('a JPG thumbnail is served as image/jpeg; a name with spaces and brackets works', async () => {
  assert.equal((await upload('Cube (v2) [0.15mm].gcode', fixture('prusaslicer-jpg-qoi-handcut.gcode'))).status, 201);
  const r = await getBytes(`/api/files/${encodeURIComponent('Cube (v2) [0.15mm].gcode')}/thumbnail`);
  assert.equal(r.status, 200);
  assert.equal(r.type, 'image/jpeg');
  assert.equal(r.body.readUInt16BE(0), 0xffd8);
});

test('no thumbnail is a 404 in the AppError shape; no session is a 401', async () => {
  assert.equal((await upload('cura.gcode', fixture('curaengine-4.13.0-cube.gcode'))).status, 201);
  const none = await request(web, { path: '/api/files/cura.gcode/thumbnail', localAddress: '127.0.0.1' });
  assert.equal(none.status, 404);
  assert.deepEqual(none.json, { error: { code: 'not_found', message: 'Thumbnail not found' } });
  const missing = await request(web, { path: '/api/files/nothing.gcode/thumbnail', localAddress: '127.0.0.1' });
  assert.equal(missing.status, 404);
  assert.equal(missing.json.error?.code, 'not_found');
  const remote = await request(web, { path: '/api/files/cube.gcode/thumbnail' }); // 127.0.0.2: another machine
  assert.equal(remote.status, 401);
});

test('a 20 MB upload with a broken thumbnail and no slicer header is accepted with a computed estimate', { timeout: 60_000 }, async () => {
  const moves = Array.from({ length: 5000 }, (_, i) => `G1 X${(i % 200).toFixed(2)} Y${((i * 7) % 200).toFixed(2)} E${(i * 0.01).toFixed(3)} F3000`).join('\n') + '\n';
  const parts = ['; thumbnail begin 300x300 999999\n; iVBORw0KGgo!!!bad\n', 'G90\nM82\nG92 E0\n'];
  let size = 0;
  while (size < 20 * 1024 * 1024) { parts.push(moves); size += moves.length; }
  const up = await upload('big-broken.gcode', parts.join(''));
  assert.equal(up.status, 201, up.text);
  const m = up.json.metadata as { thumbnail: unknown; slicer: unknown; estimate_source: string; estimated_time_s: number };
  assert.equal(m.thumbnail, null);
  assert.equal(m.slicer, null);
  assert.equal(m.estimate_source, 'computed');
  assert.ok(m.estimated_time_s > 0);
  assert.equal((await request(web, { path: '/api/files/big-broken.gcode/thumbnail', localAddress: '127.0.0.1' })).status, 404);
});
