/**
 * Bundle downloads against express.static (the `send` module's own Range handling, as a static update
 * server or a CDN answers) and against a server that cuts the connection half-way: a download resumes
 * where it stopped, and only a file of the announced size and SHA-256 is ever renamed into place, with
 * the mode RAUC accepts. A bundle that finished before a restart is checked again, not fetched again.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import express from 'express';
import { AppError } from '../../services/shared/errors.ts';
import { downloadBundle } from '../../services/updater/download.ts';

const SIZE = 3 * 1024 * 1024 + 17;
const body = randomBytes(SIZE);
const sha256 = createHash('sha256').update(body).digest('hex');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'printbox-update-dl-'));
const served = fs.mkdtempSync(path.join(os.tmpdir(), 'printbox-update-srv-'));
fs.writeFileSync(path.join(served, 'b.raucb'), body);
const ranges: (string | undefined)[] = [];
let base = '';
let cutBase = '';
const servers: http.Server[] = [];

const listen = async (handler: http.RequestListener) => {
  const s = http.createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
};

before(async () => {
  const app = express();
  app.use((req, _res, next) => { ranges.push(req.headers.range); next(); });
  app.use(express.static(served));
  base = await listen(app);
  // sends the first 30 % with the full length announced, then drops the connection; ignores Range
  cutBase = await listen((_req, res) => {
    res.writeHead(200, { 'Content-Length': SIZE, 'Content-Type': 'application/octet-stream' });
    res.write(body.subarray(0, Math.floor(SIZE * 0.3)), () => setTimeout(() => res.socket?.destroy(), 50));
  });
});

after(async () => {
  for (const s of servers) { s.closeAllConnections(); await new Promise((r) => s.close(r)); }
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(served, { recursive: true, force: true });
});

const dest = (name: string) => path.join(dir, name);

test('a whole download: progress up to the size, verified, renamed into place, no .part left', async () => {
  const seen: number[] = [];
  const out = await downloadBundle({ url: `${base}/b.raucb`, dest: dest('a.raucb'), size: SIZE, sha256, progressMs: 0, onProgress: (n, total) => { assert.equal(total, SIZE); seen.push(n); } });
  assert.equal(out, dest('a.raucb'));
  assert.ok(fs.readFileSync(out).equals(body));
  assert.ok(!fs.existsSync(`${out}.part`));
  assert.equal(seen.at(-1), SIZE);
  assert.ok(seen.every((n, i) => i === 0 || n >= seen[i - 1]!), 'progress never goes back');
});

test('a cut connection keeps what arrived; the next attempt asks only for the rest', async () => {
  const d = dest('cut.raucb');
  await assert.rejects(downloadBundle({ url: `${cutBase}/b.raucb`, dest: d, size: SIZE, sha256 }), (e: AppError) => {
    assert.equal(e.code, 'update_download_failed');
    assert.match(e.message, /resumes where it stopped/);
    return true;
  });
  const kept = fs.statSync(`${d}.part`).size;
  assert.ok(kept > 0 && kept < SIZE, `kept ${kept}`);
  assert.ok(!fs.existsSync(d));
  ranges.length = 0;
  await downloadBundle({ url: `${base}/b.raucb`, dest: d, size: SIZE, sha256 });
  assert.deepEqual(ranges, [`bytes=${kept}-`]);
  assert.ok(fs.readFileSync(d).equals(body));
});

test('a server that ignores Range sends it all again: the download starts over and is still right', async () => {
  const d = dest('norange.raucb');
  fs.writeFileSync(`${d}.part`, body.subarray(0, 1000), { mode: 0o640 });
  const whole = await listen((_req, res) => { res.writeHead(200, { 'Content-Length': SIZE }); res.end(body); });
  await downloadBundle({ url: `${whole}/b.raucb`, dest: d, size: SIZE, sha256 });
  assert.ok(fs.readFileSync(d).equals(body));
});

test('a file that does not match the index is deleted, never renamed into place', async () => {
  const d = dest('bad.raucb');
  await assert.rejects(downloadBundle({ url: `${base}/b.raucb`, dest: d, size: SIZE, sha256: '0'.repeat(64) }), (e: AppError) => e.code === 'update_checksum_mismatch' && e.status === 502);
  assert.ok(!fs.existsSync(d) && !fs.existsSync(`${d}.part`));
  await assert.rejects(downloadBundle({ url: `${base}/b.raucb`, dest: d, size: SIZE - 100, sha256 }), (e: AppError) => {
    assert.equal(e.code, 'update_download_failed');
    assert.match(e.message, /larger than the \d+ bytes the index announced/);
    return true;
  });
  assert.ok(!fs.existsSync(d) && !fs.existsSync(`${d}.part`));
});

test('a missing bundle or an unreachable server: update_download_failed with the reason', async () => {
  await assert.rejects(downloadBundle({ url: `${base}/nope.raucb`, dest: dest('nope.raucb'), size: SIZE, sha256 }), (e: AppError) => e.code === 'update_download_failed' && /answered 404/.test(e.message));
  const closed = http.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((r) => closed.close(r));
  await assert.rejects(downloadBundle({ url: `http://127.0.0.1:${port}/b.raucb`, dest: dest('nope.raucb'), size: SIZE, sha256 }), (e: AppError) => e.code === 'update_download_failed' && /ECONNREFUSED/.test(e.message));
});

test('a cancelled download says so and keeps its part for later', async () => {
  const d = dest('cancel.raucb');
  const ac = new AbortController();
  await assert.rejects(downloadBundle({ url: `${base}/b.raucb`, dest: d, size: SIZE, sha256, signal: ac.signal, progressMs: 0, onProgress: (n) => { if (n > SIZE / 4) ac.abort(); } }), (e: AppError) => e.code === 'update_cancelled');
  assert.ok(fs.statSync(`${d}.part`).size > 0);
  await downloadBundle({ url: `${base}/b.raucb`, dest: d, size: SIZE, sha256 });
  assert.ok(fs.readFileSync(d).equals(body));
});

// what the file system gives a file created with mode 0640 under this process's umask
const BUNDLE_MODE = 0o640 & ~process.umask();

test('the bundle is created with mode 0640, never looser; a part left with a looser mode starts over', async () => {
  const d = dest('mode.raucb');
  await downloadBundle({ url: `${base}/b.raucb`, dest: d, size: SIZE, sha256 });
  assert.equal(fs.statSync(d).mode & 0o777, BUNDLE_MODE);
  const cut = dest('mode-cut.raucb');
  await assert.rejects(downloadBundle({ url: `${cutBase}/b.raucb`, dest: cut, size: SIZE, sha256 }), (e: AppError) => e.code === 'update_download_failed');
  assert.equal(fs.statSync(`${cut}.part`).mode & 0o777, BUNDLE_MODE);
  // as an older version of the service left it: resuming would keep the mode RAUC refuses
  fs.chmodSync(`${cut}.part`, 0o644);
  ranges.length = 0;
  await downloadBundle({ url: `${base}/b.raucb`, dest: cut, size: SIZE, sha256 });
  assert.deepEqual(ranges, [undefined]);
  assert.equal(fs.statSync(cut).mode & 0o777, BUNDLE_MODE);
  assert.ok(fs.readFileSync(cut).equals(body));
});

test('a bundle that finished before a restart is checked again and used without fetching; a damaged one is fetched again', async () => {
  const d = dest('kept.raucb');
  await downloadBundle({ url: `${base}/b.raucb`, dest: d, size: SIZE, sha256 });
  ranges.length = 0;
  const seen: number[] = [];
  assert.equal(await downloadBundle({ url: `${base}/b.raucb`, dest: d, size: SIZE, sha256, onProgress: (n) => seen.push(n) }), d);
  assert.deepEqual(ranges, [], 'nothing fetched');
  assert.deepEqual(seen, [SIZE]);
  // as RAUC leaves a bundle it took over for an install that was then cut off: another owner, read-only
  fs.chownSync(d, 4242, 4242);
  fs.chmodSync(d, 0o440);
  assert.equal(await downloadBundle({ url: `${base}/b.raucb`, dest: d, size: SIZE, sha256 }), d);
  assert.deepEqual(ranges, [], 'copied on the device, not fetched');
  assert.equal(fs.statSync(d).uid, process.getuid!(), "the service's own file again");
  assert.equal(fs.statSync(d).mode & 0o777, BUNDLE_MODE);
  assert.ok(fs.readFileSync(d).equals(body));
  const damaged = Buffer.from(body);
  damaged.writeUInt8(damaged.readUInt8(SIZE - 1) ^ 0xff, SIZE - 1);
  for (const [what, content] of [['same size, other bytes', damaged], ['cut short', body.subarray(0, 1000)]] as const) {
    fs.rmSync(d);
    fs.writeFileSync(d, content, { mode: 0o640 });
    ranges.length = 0;
    await downloadBundle({ url: `${base}/b.raucb`, dest: d, size: SIZE, sha256 });
    assert.deepEqual(ranges, [undefined], what);
    assert.ok(fs.readFileSync(d).equals(body), what);
    assert.equal(fs.statSync(d).mode & 0o777, BUNDLE_MODE, what);
  }
});
