/**
 * The camera proxy's cost: a 1280×720 MJPEG stream at 30 frames/s (a real JPEG from ffmpeg, served by the
 * ustreamer stand-in in its own process) watched by 1 and 3 viewers, first straight from the camera socket
 * (the peer: what reading ustreamer directly costs), then through the web's /camera/<id>/stream over HTTPS with
 * an API key, from 127.0.0.2 like a phone on the network. For each: the web process's CPU (% of one core of this
 * machine), the direct readers' CPU, their ratio, and the frame rate each viewer got. The issue's goal is
 * ≤ 15 % of one core of a Pi-class CPU; this machine is not one, so the ratio is the figure that carries over.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { BOUNDARY } from '../test/helpers/fake-ustreamer.ts';
import { mjpegPartCounter } from '../test/helpers/mjpeg.ts';
import { request, startWeb, tempDir, type WebServer } from '../test/helpers/web.ts';
import { cpuSeconds } from './proc.ts';

const SECONDS = 10;
const FPS = 30;

interface Viewer { frames: number; close(): void }

function watch(get: (onData: (c: Buffer) => void) => http.ClientRequest): Viewer {
  const v = { frames: 0, close: () => req.destroy() };
  const parts = mjpegPartCounter(BOUNDARY);
  const req = get((c) => { parts.feed(c); v.frames = parts.parts; });
  req.on('error', () => undefined);
  return v;
}

const direct = (socket: string) => watch((on) => http.get({ socketPath: socket, path: '/stream' }, (res) => res.on('data', on)));
const proxied = (web: WebServer, key: string) => watch((on) => https.get({
  host: '127.0.0.1', port: web.httpsPort, path: '/camera/video0/stream', localAddress: '127.0.0.2', ca: web.ca, agent: false,
  headers: { Host: `127.0.0.1:${web.httpsPort}`, 'X-Api-Key': key }, servername: '', checkServerIdentity: (_h, cert) => tls.checkServerIdentity('127.0.0.1', cert),
}, (res) => res.on('data', on)));

async function measure(open: () => Viewer, n: number, cpu: () => number): Promise<{ cpuPct: number; fps: number }> {
  const viewers = Array.from({ length: n }, open);
  await new Promise((r) => setTimeout(r, 1000)); // connected and streaming
  const f0 = viewers.map((v) => v.frames); const c0 = cpu(); const t0 = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const s = (performance.now() - t0) / 1000;
  const cpuPct = ((cpu() - c0) / s) * 100;
  const fps = Math.min(...viewers.map((v, i) => (v.frames - f0[i]!) / s));
  viewers.forEach((v) => v.close());
  return { cpuPct, fps };
}

export async function cameraBench(): Promise<void> {
  const dir = tempDir('bench-camera');
  const camDir = path.join(dir, 'cam'); fs.mkdirSync(camDir);
  const jpeg = path.join(dir, 'frame.jpg');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=1', '-frames:v', '1', '-q:v', '4', jpeg]);
  const socket = path.join(camDir, 'video0.sock');
  const cam = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'camera-source.ts'), socket, jpeg, String(Math.round(1000 / FPS))], { stdio: ['ignore', 'pipe', 'inherit'] });
  process.once('exit', () => cam.kill('SIGKILL'));
  await new Promise<void>((r) => cam.stdout!.once('data', () => r()));
  let web: WebServer | undefined;
  try {
    web = await startWeb({ dataDir: path.join(dir, 'data'), runDir: path.join(dir, 'run'), env: { PRINTBOX_CAMERA_DIR: camDir } });
    const key = (await request(web, { method: 'POST', path: '/api/apikeys', body: { name: 'bench', role: 'api' }, localAddress: '127.0.0.1' })).json.key as string;
    const self = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
    let out = `\nCamera proxy: 1280×720 MJPEG, ${(fs.statSync(jpeg).size / 1024).toFixed(0)} KB a frame, ${FPS} frames/s, ${SECONDS} s a run\n`
      + '| viewers | web CPU (% of a core) | direct readers CPU | web/direct | fps per viewer (proxied / direct) |\n|---|---|---|---|---|\n';
    for (const n of [1, 3]) {
      const d = await measure(() => direct(socket), n, self);
      const w = web;
      const p = await measure(() => proxied(w, key), n, () => cpuSeconds(w.child.pid!));
      out += `| ${n} | ${p.cpuPct.toFixed(1)} % | ${d.cpuPct.toFixed(1)} % | ${(p.cpuPct / d.cpuPct).toFixed(2)}× | ${p.fps.toFixed(1)} / ${d.fps.toFixed(1)} |\n`;
    }
    process.stdout.write(out);
  } finally {
    await web?.stop();
    cam.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
