/**
 * Timelapse end to end: the printer service with a virtual printer reports each layer it confirms, the web
 * takes a frame from the camera socket (the ustreamer stand-in serving real JPEGs made by ffmpeg) at each,
 * and when the job ends Debian's ffmpeg makes the video — checked with ffprobe, not by us: H.264, yuv420p,
 * one frame per layer (Z-hops and retractions are not layers). The print itself is undisturbed (every line
 * done); the video is listed with its job, downloadable with ranges, deletable; bad settings are refused
 * with every problem listed; with no camera a print is simply not recorded.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startFakeUstreamer, type FakeUstreamer } from '../helpers/fake-ustreamer.ts';
import { layeredGcode } from '../helpers/layered-gcode.ts';
import { startPrinterStack, type PrinterStack } from '../helpers/printer-stack.ts';
import { request, startWeb } from '../helpers/web.ts';

const ID = 'vp-1';
const LAYERS = 6;

const layered = () => layeredGcode(LAYERS);

let stack: PrinterStack;
let cam: FakeUstreamer | undefined;
let camDir: string;

const call = (method: string, p: string, body?: unknown) => stack.call(method, p, body);

async function print(file: string): Promise<number> {
  const start = await call('POST', `/api/printers/${ID}/job`, { file });
  assert.equal(start.status, 202, start.text);
  const job = await stack.jobEnd(ID, 60_000);
  assert.equal(job.state, 'done', `${job.state} ${job.reason ?? ''}`);
  return job.id;
}

before(async () => {
  stack = await startPrinterStack({ tag: 'timelapse', printers: { [ID]: { baud: 250_000, latencyMs: 1 } }, baudrates: [250_000], files: { 'layers.gcode': layered() } });
  camDir = path.join(stack.dir, 'cam');
  fs.mkdirSync(camDir);
  stack.web = await startWeb({ dataDir: stack.dataDir, runDir: stack.runDir, env: { PRINTBOX_CAMERA_DIR: camDir } });
  await stack.untilState(ID, 'idle');
});

after(async () => { await cam?.stop(); await stack?.close(); });

test('settings: off by default; every problem of a bad change listed and nothing changed', async () => {
  const now = await call('GET', '/api/timelapse/settings');
  assert.equal(now.status, 200, now.text);
  assert.equal(now.json.enabled, false);
  const bad = await call('PUT', '/api/timelapse/settings', { enabled: 'yes', mode: 'fast', intervalS: 1, fps: 0, maxMb: 5, camera: '../video0', extra: 1 });
  assert.equal(bad.status, 400, bad.text);
  const errors = (bad.json.error as unknown as { details: { errors: string[] } }).details.errors;
  assert.equal(errors.length, 7, errors.join(' | '));
  assert.equal((await call('GET', '/api/timelapse/settings')).json.mode, 'layer');
});

test('with timelapses on but no camera, a print is not recorded (and not disturbed)', { timeout: 90_000 }, async () => {
  assert.equal((await call('PUT', '/api/timelapse/settings', { enabled: true, mode: 'layer', fps: 10 })).status, 200);
  await print('layers.gcode');
  assert.deepEqual((await call('GET', '/api/timelapses')).json, []);
});

test('one frame per layer, an H.264 video when the job ends, listed with its job, downloadable and deletable', { timeout: 120_000 }, async () => {
  const pics = path.join(stack.dir, 'pics');
  fs.mkdirSync(pics);
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=1', '-frames:v', '4', '-q:v', '5', path.join(pics, 'p%d.jpg')]);
  const jpegs = fs.readdirSync(pics).sort().map((n) => fs.readFileSync(path.join(pics, n)));
  cam = await startFakeUstreamer(path.join(camDir, 'video0.sock'), { jpegs });

  const job = await print('layers.gcode');
  const t = await stack.until(async () => {
    const list = (await call('GET', '/api/timelapses')).json as unknown as Array<Record<string, unknown>>;
    return list.find((x) => x.job === job && (x.state === 'ready' || x.state === 'failed'));
  }, 60_000, 'timelapse encoded');
  assert.equal(t.state, 'ready', String(t.error));
  assert.equal(t.frames, LAYERS, 'a frame per layer; hops and retractions are not layers');
  assert.equal(cam.served['/snapshot'], LAYERS);

  const video = path.join(stack.dataDir, 'timelapse', `job-${job}.mp4`);
  const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-count_frames', '-show_entries', 'stream=codec_name,width,height,pix_fmt,nb_read_frames', '-of', 'json', video], { encoding: 'utf8' })) as { streams: Array<Record<string, unknown>> };
  assert.deepEqual(probe.streams[0], { codec_name: 'h264', width: 320, height: 240, pix_fmt: 'yuv420p', nb_read_frames: String(LAYERS) });
  assert.ok(!fs.existsSync(path.join(stack.dataDir, 'timelapse', `job-${job}.frames`)), 'frames removed once the video is made');

  const jobs = (await call('GET', '/api/jobs')).json as unknown as Array<{ id: number; timelapse?: { video?: string; size?: number } }>;
  const entry = jobs.find((j) => j.id === job);
  assert.equal(entry?.timelapse?.video, `/api/timelapses/${job}/video`);
  const full = await call('GET', `/api/timelapses/${job}/video`);
  assert.equal(full.status, 200);
  assert.equal(full.headers['content-type'], 'video/mp4');
  assert.match(String(full.headers['content-disposition']), /^attachment; filename="?layers-job\d+\.mp4"?$/);
  assert.equal(Number(full.headers['content-length']), fs.statSync(video).size);
  const ranged = await stack.call('GET', `/api/timelapses/${job}/video`, undefined, { Range: 'bytes=0-99' });
  assert.equal(ranged.status, 206);
  assert.equal(ranged.headers['content-length'], '100');

  assert.equal((await call('DELETE', `/api/timelapses/${job}`)).status, 204);
  assert.ok(!fs.existsSync(video));
  assert.equal((await call('GET', `/api/timelapses/${job}/video`)).status, 404);
  assert.equal((await call('DELETE', `/api/timelapses/${job}`)).status, 404);
});

test('the API refuses callers without the permission and a malformed job id', async () => {
  const anon = await request(stack.web!, { path: '/api/timelapses' });
  assert.equal(anon.status, 401);
  assert.equal((await call('GET', '/api/timelapses/abc/video')).status, 400);
});
