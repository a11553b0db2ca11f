/**
 * The camera proxy of the real web over HTTPS, from 127.0.0.2 (not the local-machine bypass), against a
 * ustreamer stand-in on the camera socket (test/helpers/fake-ustreamer.ts; the real ustreamer on vivid is
 * exercised by the image test): no credential, no picture — and the camera never sees the request; a key in
 * the URL refused; stream and snapshot with a key; two viewers, one of which stops reading, do not slow the
 * other; unplug and replug; a revoked key ends its open stream; settings validated as a whole and handed to
 * ustreamer through the unit's environment file; OctoPrint's settings.webcam points at the camera.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, test } from 'node:test';
import { BOUNDARY, JPEG, startFakeUstreamer, type FakeUstreamer } from '../helpers/fake-ustreamer.ts';
import { mjpegPartCounter } from '../helpers/mjpeg.ts';
import { request, spawnService, startWeb, tempDir, type Service, type WebServer } from '../helpers/web.ts';
import { waitFor } from '../helpers/virtual-printer.ts';

let printer: Service;
let web: WebServer;
let camDir: string;
let dataDir: string;
let cam: FakeUstreamer;
let key: string;

const local = (method: string, p: string, body?: unknown) => request(web, { method, path: p, body, localAddress: '127.0.0.1' });

interface Viewer { status: number; type: string; frames(): number; bytes(): number; ended: Promise<void>; isEnded(): boolean; pause(): void; close(): void }

/** GET a camera URL from 127.0.0.2; counts the MJPEG parts received. */
function view(p: string, headers: Record<string, string>): Promise<Viewer> {
  return new Promise((resolve, reject) => {
    const req = https.get({
      host: '127.0.0.1', port: web.httpsPort, path: p, localAddress: '127.0.0.2', ca: web.ca, agent: false,
      headers: { Host: `127.0.0.1:${web.httpsPort}`, ...headers },
      servername: '', checkServerIdentity: (_h, cert) => tls.checkServerIdentity('127.0.0.1', cert),
    }, (res) => {
      let bytes = 0; let done = false;
      const ended = new Promise<void>((r) => res.on('close', () => { done = true; r(); }));
      const parts = mjpegPartCounter(BOUNDARY);
      res.on('data', (c: Buffer) => { bytes += c.length; parts.feed(c); });
      resolve({
        status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''),
        frames: () => parts.parts, bytes: () => bytes, ended, isEnded: () => done,
        pause: () => res.pause(), close: () => req.destroy(),
      });
    });
    req.on('error', reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  const base = tempDir('camera');
  const runDir = path.join(base, 'run');
  camDir = path.join(base, 'cam');
  dataDir = path.join(base, 'data');
  fs.mkdirSync(camDir, { recursive: true });
  printer = spawnService('services/printer/main.ts', { PRINTBOX_DATA_DIR: path.join(base, 'printer-data'), PRINTBOX_RUN_DIR: runDir, PRINTBOX_VIRTUAL_PRINTERS: '1' });
  await printer.waitFor(/printer connected/);
  web = await startWeb({ dataDir, runDir, env: { PRINTBOX_CAMERA_DIR: camDir } });
  const r = await local('POST', '/api/apikeys', { name: 'camera-app', role: 'api', format: 'octoprint' });
  assert.equal(r.status, 201, r.text);
  key = r.json.key as string;
});

after(async () => { await cam?.stop().catch(() => undefined); await web?.stop(); await printer?.stop(); });

test('no camera: the list is empty, a camera URL is 404, a malformed id 400', async () => {
  const list = await request(web, { path: '/api/cameras', bearer: key });
  assert.equal(list.status, 200, list.text);
  assert.deepEqual(list.json, []);
  assert.equal((await request(web, { path: '/camera/video0/snapshot', bearer: key })).status, 404);
  const bad = await request(web, { path: '/camera/..%2Fx/snapshot', bearer: key });
  assert.equal(bad.status, 400, bad.text);
  const op = await request(web, { path: '/api/settings', headers: { 'X-Api-Key': key } });
  assert.equal(op.status, 200, op.text);
  assert.equal((op.json.webcam as { webcamEnabled: boolean }).webcamEnabled, false);
});

test('with a camera: listed with ustreamer\'s state; without a credential or with the key in the URL nothing reaches it', async () => {
  cam = await startFakeUstreamer(path.join(camDir, 'video0.sock'));
  const list = await request(web, { path: '/api/cameras', bearer: key });
  assert.equal(list.status, 200, list.text);
  const [c] = list.json as unknown as Array<Record<string, unknown>>;
  assert.equal(c?.id, 'video0');
  assert.equal(c?.online, true);
  assert.deepEqual(c?.resolution, { width: 1280, height: 720 });
  assert.equal(c?.stream, '/camera/video0/stream');
  for (const p of ['/camera/video0/stream', '/camera/video0/snapshot']) {
    const anon = await request(web, { path: p, timeoutMs: 5000 });
    assert.equal(anon.status, 401, anon.text);
    const inUrl = await request(web, { path: `${p}?apikey=${key}`, timeoutMs: 5000 });
    assert.equal(inUrl.status, 401, inUrl.text);
    const wrong = await request(web, { path: p, headers: { 'X-Api-Key': 'x'.repeat(43) }, timeoutMs: 5000 });
    assert.equal(wrong.status, 403, wrong.text);
  }
  assert.equal(cam.served['/stream'] ?? 0, 0, 'the camera never saw a refused request');
  assert.equal(cam.served['/snapshot'] ?? 0, 0);
});

test('snapshot and stream with an API key (X-Api-Key and Bearer): the camera\'s bytes, MJPEG framing kept', { timeout: 20_000 }, async () => {
  const snap = await new Promise<{ status: number; type: string; body: Buffer }>((resolve, reject) => {
    https.get({ host: '127.0.0.1', port: web.httpsPort, path: '/camera/video0/snapshot', localAddress: '127.0.0.2', ca: web.ca, agent: false, headers: { Host: `127.0.0.1:${web.httpsPort}`, 'X-Api-Key': key }, servername: '', checkServerIdentity: (_h, cert) => tls.checkServerIdentity('127.0.0.1', cert) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
  assert.equal(snap.status, 200);
  assert.equal(snap.type, 'image/jpeg');
  assert.ok(snap.body.equals(JPEG), 'the JPEG as the camera sent it');
  const v = await view('/camera/video0/stream', { Authorization: `Bearer ${key}` });
  assert.equal(v.status, 200);
  assert.equal(v.type, `multipart/x-mixed-replace;boundary=${BOUNDARY}`);
  await waitFor(() => v.frames() >= 10, 5000, 'ten frames');
  v.close();
  await waitFor(() => cam.clients === 0, 3000, 'the camera connection closed with the viewer');
});

test('two viewers and one that stops reading: the reading ones keep the camera\'s frame rate', { timeout: 30_000 }, async () => {
  const a = await view('/camera/video0/stream', { 'X-Api-Key': key });
  const stuck = await view('/camera/video0/stream', { 'X-Api-Key': key });
  stuck.pause();
  await sleep(500);
  const b = await view('/camera/video0/stream', { 'X-Api-Key': key });
  const [a0, b0] = [a.frames(), b.frames()];
  await sleep(3000);
  const [da, db] = [a.frames() - a0, b.frames() - b0];
  // 40 ms a frame: 75 in 3 s; a viewer starved by another would see a fraction of that
  assert.ok(da >= 50 && db >= 50, `frames in 3 s: first ${da}, second ${db}`);
  for (const x of [a, b, stuck]) x.close();
});

test('unplug ends the open stream and drops the camera from the list; replug brings it back', { timeout: 20_000 }, async () => {
  const v = await view('/camera/video0/stream', { 'X-Api-Key': key });
  await waitFor(() => v.frames() >= 3, 5000, 'frames');
  await cam.stop();
  await Promise.race([v.ended, sleep(3000)]);
  assert.ok(v.isEnded(), 'the stream ended with the camera');
  assert.deepEqual((await request(web, { path: '/api/cameras', bearer: key })).json, []);
  assert.equal((await request(web, { path: '/camera/video0/snapshot', bearer: key })).status, 404);
  cam = await startFakeUstreamer(path.join(camDir, 'video0.sock'));
  const again = await view('/camera/video0/stream', { 'X-Api-Key': key });
  await waitFor(() => again.frames() >= 3, 5000, 'frames after the replug');
  again.close();
});

test('a camera whose streamer does not answer is 503 camera_offline, not a hang', { timeout: 20_000 }, async () => {
  fs.writeFileSync(path.join(camDir, 'video1.sock'), ''); // a stale socket path: nothing listens
  const r = await request(web, { path: '/camera/video1/snapshot', bearer: key, timeoutMs: 8000 });
  assert.equal(r.status, 503, r.text);
  assert.equal(r.json.error?.code, 'camera_offline');
  const list = (await request(web, { path: '/api/cameras', bearer: key })).json as unknown as Array<{ id: string; online: boolean }>;
  assert.deepEqual(list.map((c) => [c.id, c.online]), [['video0', true], ['video1', false]]);
  fs.rmSync(path.join(camDir, 'video1.sock'));
});

test('revoking the key ends its open stream', { timeout: 20_000 }, async () => {
  const r = await local('POST', '/api/apikeys', { name: 'short-lived', role: 'api' });
  const v = await view('/camera/video0/stream', { Authorization: `Bearer ${r.json.key as string}` });
  await waitFor(() => v.frames() >= 3, 5000, 'frames');
  assert.equal((await local('DELETE', `/api/apikeys/${r.json.id as number}`)).status, 200);
  await Promise.race([v.ended, sleep(3000)]);
  assert.ok(v.isEnded(), 'the stream ended with its key');
});

test('settings: every problem listed and nothing changed; valid ones reach the unit\'s environment file and settings.webcam', async () => {
  const bad = await local('PUT', '/api/cameras/video0/settings', { resolution: '1280x721', fps: 0, quality: 101, rotate: 45, flipH: 'yes', zoom: 2 });
  assert.equal(bad.status, 400, bad.text);
  assert.equal(bad.json.error?.code, 'invalid_camera_settings');
  const errors = (bad.json.error as unknown as { details: { errors: string[] } }).details.errors;
  assert.equal(errors.length, 6, errors.join(' | '));
  assert.ok(!fs.existsSync(path.join(dataDir, 'cameras', 'video0.env')), 'nothing written');
  const asViewer = await request(web, { method: 'PUT', path: '/api/cameras/video0/settings', bearer: key, body: { fps: 10 } });
  assert.equal(asViewer.status, 403, 'the api role may watch, not configure');
  const ok = await local('PUT', '/api/cameras/video0/settings', { resolution: '640x480', fps: 10, flipH: true, rotate: 270 });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(fs.readFileSync(path.join(dataDir, 'cameras', 'video0.env'), 'utf8').split('\n').find((l) => l.startsWith('PRINTBOX_CAMERA_ARGS=')),
    'PRINTBOX_CAMERA_ARGS=--resolution=640x480 --desired-fps=10 --quality=80');
  const op = await request(web, { path: '/api/settings', headers: { 'X-Api-Key': key } });
  const webcam = op.json.webcam as Record<string, unknown>;
  assert.equal(webcam.webcamEnabled, true);
  assert.equal(webcam.streamUrl, `https://127.0.0.1:${web.httpsPort}/camera/video0/stream`);
  assert.equal(webcam.flipH, true);
  assert.equal(webcam.rotate90, true);
  assert.equal(webcam.streamRatio, '4:3');
});
