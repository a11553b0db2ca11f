/**
 * `npm run bench -- upload`: a 50 MiB G-code (a real PrusaSlicer 2.5.0 file from test/fixtures/gcode with
 * its header, thumbnails and end-of-file totals kept, the layers in between repeated) uploaded over HTTPS
 * on loopback to the real web (beside the printer service with one virtual printer), through PrintBox's
 * API (POST /api/files) and the OctoPrint-compatible one (POST /octoprint/vp-1/api/files/local), as one
 * streamed multipart request each. The peer, measured in the same run with the same client and bytes:
 * bench/sink.ts, a Node https server that only writes the body to disk and fsyncs it. Runs alternate
 * between the three targets so a change in machine load hits all of them alike; medians are reported.
 *
 * The web's RSS (VmRSS in /proc/<pid>/status) is sampled every 10 ms during each upload: the upload is
 * streamed to its spool file, so the growth must stay far below the file size. The sink's growth is
 * printed beside it as what streaming alone costs.
 * Env (bench only): BENCH_UPLOAD_MB (default 50), BENCH_UPLOAD_RUNS (default 5).
 */
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { startOctoStack } from '../test/helpers/octoprint.ts';
import { REPO, spawnService, tempDir, type Service } from '../test/helpers/web.ts';
import { metadataBench } from './metadata.ts';
import { cpuSeconds, rss } from './proc.ts';

const MiB = 1024 * 1024;
const SIZE_MB = Number(process.env.BENCH_UPLOAD_MB ?? 50);
const RUNS = Number(process.env.BENCH_UPLOAD_RUNS ?? 5);
const FIXTURE = path.join(REPO, 'test/fixtures/gcode/prusaslicer-2.5.0-thumbnails.gcode');

/**
 * Writes a G-code of at least `bytes`: the fixture's start (header, thumbnails, start G-code), its layers
 * repeated, then its end G-code, totals and config block — so the metadata parser meets a real file's
 * header and footer, and the thumbnail stays the real one.
 */
export function buildGcode(file: string, bytes: number): { size: number; repeats: number } {
  const lines = fs.readFileSync(FIXTURE, 'latin1').split('\n');
  const first = lines.indexOf(';LAYER_CHANGE');
  // PrusaSlicer opens its end G-code with ";TYPE:Custom" just before this comment.
  const end = lines.findIndex((l) => l.startsWith('; Filament-specific end gcode')) - 1;
  if (first < 0 || end <= first) throw new Error(`${FIXTURE}: layer block not found`);
  const head = lines.slice(0, first).join('\n') + '\n';
  const body = lines.slice(first, end).join('\n') + '\n';
  const tail = lines.slice(end).join('\n');
  const fd = fs.openSync(file, 'w');
  try {
    let size = fs.writeSync(fd, head, null, 'latin1');
    let repeats = 0;
    const block = Buffer.from(body, 'latin1');
    while (size + block.length + Buffer.byteLength(tail, 'latin1') <= bytes) { size += fs.writeSync(fd, block); repeats++; }
    size += fs.writeSync(fd, tail, null, 'latin1');
    return { size, repeats };
  } finally { fs.closeSync(fd); }
}

/** Samples the RSS of `pid` every 10 ms until stop(), which returns the highest value seen. */
function sampleRss(pid: number): { stop(): number } {
  let peak = rss(pid);
  const timer = setInterval(() => { peak = Math.max(peak, rss(pid)); }, 10);
  return { stop() { clearInterval(timer); return Math.max(peak, rss(pid)); } };
}

interface Target { name: string; port: number; path: string; headers: Record<string, string>; fields: Array<[string, string]>; pid: number }

/**
 * One multipart upload of `file`, streamed from disk (the client never holds it either); resolves with
 * the seconds from the first byte sent to the end of the 201 answer, the server's peak RSS and the share
 * of those seconds it spent on a CPU (all its threads; its JavaScript runs on one, so near 1.0 means CPU-bound).
 */
function upload(t: Target, ca: string, file: string, size: number, filename: string): Promise<{ seconds: number; peakRss: number; cpu: number }> {
  const boundary = `----printbox-bench-${Math.random().toString(16).slice(2)}`;
  const fields = t.fields.map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`).join('');
  const head = Buffer.from(`${fields}--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return new Promise((resolve, reject) => {
    const sampler = sampleRss(t.pid);
    const cpu0 = cpuSeconds(t.pid);
    const t0 = performance.now();
    const req = https.request({
      host: '127.0.0.1', port: t.port, method: 'POST', path: t.path, ca, agent: false, localAddress: '127.0.0.1',
      servername: '', checkServerIdentity: (_host, cert) => tls.checkServerIdentity('127.0.0.1', cert),
      headers: { ...t.headers, Host: `127.0.0.1:${t.port}`, 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Content-Length': String(head.length + size + tail.length) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const seconds = (performance.now() - t0) / 1000;
        const peakRss = sampler.stop();
        const cpu = (cpuSeconds(t.pid) - cpu0) / seconds;
        if (res.statusCode !== 201) reject(new Error(`${t.name}: ${res.statusCode} ${Buffer.concat(chunks).toString()}`));
        else resolve({ seconds, peakRss, cpu });
      });
    });
    req.on('error', (e) => { sampler.stop(); reject(e); });
    req.write(head);
    const body = fs.createReadStream(file, { highWaterMark: 256 * 1024 });
    body.on('error', (e) => req.destroy(e));
    body.pipe(req, { end: false });
    body.on('end', () => req.end(tail));
  });
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };
const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

interface Result { name: string; mibps: number[]; cpu: number[]; base: number; peak: number }

/** Uploads to each target in turn, RUNS times, after one small warm-up upload each (JIT, lazily loaded multer). */
async function measure(targets: Target[], ca: string, file: string, size: number): Promise<Result[]> {
  const results: Result[] = targets.map((t) => ({ name: t.name, mibps: [], cpu: [], base: 0, peak: 0 }));
  const warm = fs.statSync(FIXTURE).size;
  for (const [i, t] of targets.entries()) {
    await upload(t, ca, FIXTURE, warm, 'warm-up.gcode');
    await new Promise((r) => setTimeout(r, 300));
    results[i]!.base = rss(t.pid);
  }
  for (let run = 1; run <= RUNS; run++) {
    for (const [i, t] of targets.entries()) {
      const r = await upload(t, ca, file, size, `bench-${i}-${run}.gcode`);
      results[i]!.mibps.push(size / MiB / r.seconds);
      results[i]!.cpu.push(r.cpu);
      results[i]!.peak = Math.max(results[i]!.peak, r.peakRss);
    }
  }
  return results;
}

export async function uploadBench(): Promise<void> {
  const dir = tempDir('bench-upload');
  let sink: Service | undefined;
  const octo = await startOctoStack('bench-upload', ['vp-1']).catch((e: unknown) => { fs.rmSync(dir, { recursive: true, force: true }); throw e; });
  try {
    const file = path.join(dir, 'big.gcode');
    const { size, repeats } = buildGcode(file, SIZE_MB * MiB);
    const web = octo.stack.web!;
    sink = spawnService('bench/sink.ts', { SINK_DIR: dir, SINK_TLS_DIR: path.join(octo.stack.dataDir, 'tls') });
    const sinkPort = (JSON.parse((await sink.waitFor(/\[sink\] listening/)).replace(/^.*?\{/, '{')) as { port: number }).port;
    const webPid = web.child.pid!;
    const coldRss = rss(webPid);
    // From 127.0.0.1 PrintBox's API needs no sign-in (the local-admin rule); the OctoPrint API always wants a key.
    const targets: Target[] = [
      { name: 'peer: https sink (write + fsync)', port: sinkPort, path: '/upload', headers: {}, fields: [], pid: sink.child.pid! },
      { name: 'PrintBox POST /api/files', port: web.httpsPort, path: '/api/files', headers: {}, fields: [], pid: webPid },
      // PrusaSlicer's field order (src/slic3r/Utils/OctoPrint.cpp): print, path, file.
      { name: 'OctoPrint POST …/files/local', port: web.httpsPort, path: '/octoprint/vp-1/api/files/local', headers: { 'X-Api-Key': octo.keys.api }, fields: [['print', 'false'], ['path', '']], pid: webPid },
    ];
    const results = await measure(targets, web.ca, file, size);
    const [, api, op] = results as [Result, Result, Result];
    // The same upload with a file twice as large: a buffered upload would need about one file size more.
    const doubleFile = path.join(dir, 'double.gcode');
    const double = buildGcode(doubleFile, 2 * SIZE_MB * MiB);
    const doublePeak = (await upload(targets[1]!, web.ca, doubleFile, double.size, 'bench-double.gcode')).peakRss;
    await new Promise((r) => setTimeout(r, 500));
    const afterRss = rss(webPid);
    const stored = (await octo.stack.call('GET', '/api/files')).json as unknown as Array<{ name: string; size: number; metadata: { slicer: string | null; thumbnail: unknown } }>;
    for (const name of ['bench-1-1.gcode', 'bench-2-1.gcode']) {
      if (stored.find((f) => f.name === name)?.size !== size) throw new Error(`${name} was not stored with the ${size} bytes sent`);
    }
    report(results, { size, repeats, doubleSize: double.size });
    const peak = Math.max(api.peak, op.peak);
    const growth = peak - api.base;
    const streamed = growth < size / 2 && doublePeak - peak < size / 4;
    process.stdout.write(`  web RSS: ${mib(coldRss)} at start, ${mib(api.base)} after a warm-up upload, peak ${mib(peak)} during the ${RUNS * 2} uploads ` +
      `(growth ${mib(growth)} = ${((growth / size) * 100).toFixed(0)}% of the file), peak ${mib(doublePeak)} during one ${mib(double.size)} upload, ${mib(afterRss)} after\n`);
    process.stdout.write(`  → ${streamed ? 'streamed: RSS growth stays well under the file size and does not follow it' : 'FINDING: RSS grows with the file size, the upload may be buffered in memory'}\n`);
    const entry = stored.find((f) => f.name === 'bench-1-1.gcode')!;
    process.stdout.write(`  stored: ${entry.name} ${mib(entry.size)}, slicer ${entry.metadata.slicer ?? 'none'}, thumbnail ${JSON.stringify(entry.metadata.thumbnail)}\n`);
    await metadataBench(file, size);
  } finally {
    await sink?.stop();
    await octo.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function report(results: Result[], f: { size: number; repeats: number; doubleSize: number }): void {
  const peer = median(results[0]!.mibps);
  process.stdout.write(`\nUpload: ${mib(f.size)} G-code (${path.basename(FIXTURE)}, layers ×${f.repeats}), one streamed multipart POST over HTTPS on loopback, ${RUNS} runs each, median:\n`);
  for (const r of results) {
    const m = median(r.mibps);
    process.stdout.write(`  ${r.name.padEnd(34)} ${m.toFixed(1).padStart(6)} MiB/s (runs ${r.mibps.map((x) => x.toFixed(0)).join('/')})` +
      `${r === results[0] ? '        ' : `, ${(m / peer).toFixed(2)}× peer`}; server CPU ${(median(r.cpu) * 100).toFixed(0).padStart(3)}% busy, RSS growth ${mib(r.peak - r.base)}\n`);
  }
}
