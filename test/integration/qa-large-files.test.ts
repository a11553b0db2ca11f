/**
 * User QA: slicers produce 50–300 MB G-code. A 120 MB upload over real HTTPS is streamed to disk (the
 * web's peak RSS stays far below the file size), validated once, and its command count is stored so
 * listing and starting a print never re-read it. Disk full and unsupported line endings are clear
 * 4xx/5xx errors that leave no partial file behind.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { test } from 'node:test';
import { JobReader, countCommands } from '../../services/printer/jobs/job-reader.ts';
import type { JobLine } from '../../services/printer/protocol/sender.ts';
import { FileStore } from '../../services/shared/files.ts';
import { request, startWeb, tempDir, type WebServer } from '../helpers/web.ts';

/** Peak resident memory of a process (kB), from the kernel's high-water mark. */
const peakKb = (pid: number) => Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

/** Streams `file` as a multipart upload from disk (the test must not hold 120 MB either). */
function upload(web: WebServer, file: string, name: string, opts: { chunked?: boolean } = {}): Promise<{ status: number; json: Record<string, unknown>; ms: number }> {
  const t0 = Date.now();
  const boundary = '----qa' + Math.random().toString(16).slice(2);
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port: web.httpsPort, path: '/api/files', method: 'POST', ca: web.ca, servername: '',
      checkServerIdentity: () => undefined, localAddress: '127.0.0.1',
      headers: {
        Host: `127.0.0.1:${web.httpsPort}`, 'Content-Type': `multipart/form-data; boundary=${boundary}`,
        // Chunked (no length) is how a streaming client sends: the server cannot refuse it up front.
        ...(opts.chunked ? {} : { 'Content-Length': String(head.length + fs.statSync(file).size + tail.length) }),
      },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => { try { resolve({ status: res.statusCode!, json: JSON.parse(text) as Record<string, unknown>, ms: Date.now() - t0 }); } catch (e) { reject(e); } });
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      // The server may answer (disk full) and close before the whole body is sent.
      if (e.code === 'EPIPE' || e.code === 'ECONNRESET') return;
      reject(e);
    });
    req.write(head);
    const rs = fs.createReadStream(file);
    rs.on('end', () => req.end(tail));
    rs.pipe(req, { end: false });
  });
}

/** ~`mb` MB of realistic G-code, written in big chunks (seconds, not minutes). */
function bigGcode(file: string, mb: number): number {
  const block: string[] = [];
  for (let i = 0; i < 20_000; i++) block.push(i % 500 === 0 ? `;LAYER:${i / 500}\nG1 Z${(i / 2500).toFixed(2)} F600` : `G1 X${(i % 200).toFixed(3)} Y${((i * 7) % 200).toFixed(3)} E${(i * 0.01).toFixed(5)}`);
  const chunk = Buffer.from(block.join('\n') + '\n');
  const commands = block.length; // the ";LAYER" comments share a line with nothing else
  const fd = fs.openSync(file, 'w');
  let n = 0;
  for (let size = 0; size < mb * 1024 * 1024; size += chunk.length) { fs.writeSync(fd, chunk); n++; }
  fs.closeSync(fd);
  return n * commands;
}

const leftovers = (dir: string) => fs.readdirSync(dir).filter((f) => f.startsWith('.upload-'));

test('a 120 MB upload streams to disk, is counted once, and starting a print reuses the count', { timeout: 120_000 }, async (t) => {
  const dir = tempDir('qa-large');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const dataDir = path.join(dir, 'data'); const runDir = path.join(dir, 'run');
  fs.mkdirSync(dataDir); fs.mkdirSync(runDir);
  const web = await startWeb({ dataDir, runDir });
  t.after(() => web.stop());
  const src = path.join(dir, 'big.gcode');
  const commands = bigGcode(src, 120);
  const before = peakKb(web.child.pid!);

  const t0 = Date.now();
  const r = await upload(web, src, 'big.gcode');
  assert.equal(r.status, 201, JSON.stringify(r.json));
  assert.equal(r.json.lines, commands);
  assert.equal(r.json.size, fs.statSync(src).size);
  const grown = peakKb(web.child.pid!) - before;
  // Buffering would cost at least the file (120 MB); streaming costs only GC headroom (~25-70 MB measured).
  assert.ok(grown < 96 * 1024, `web peak RSS grew by ${grown} kB for a 120 MB upload: it must stream, not buffer`);
  t.diagnostic(`upload+validate ${Date.now() - t0} ms, web peak RSS +${grown} kB`);

  // The listing answers from the stored count: fast, and with the same number.
  const t1 = Date.now();
  const list = await request(web, { path: '/api/files', localAddress: '127.0.0.1' });
  assert.equal(list.status, 200);
  assert.ok(Date.now() - t1 < 1000, `listing took ${Date.now() - t1} ms`);
  assert.deepEqual((list.json as unknown as Array<{ name: string; lines: number }>).map((f) => [f.name, f.lines]), [['big.gcode', commands]]);

  // Starting a print (printer service) takes lines_total from the same stored count, not a second pass.
  const stored = path.join(dataDir, 'files', 'big.gcode');
  const t2 = Date.now();
  assert.equal(await countCommands(stored), commands);
  assert.ok(Date.now() - t2 < 200, `countCommands re-read the file (${Date.now() - t2} ms)`);
  assert.deepEqual(leftovers(path.join(dataDir, 'files')), []);
});

test('the stored command count is only trusted while the file is unchanged', async (t) => {
  const dir = tempDir('qa-count');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = new FileStore(dir);
  await store.init();
  await store.save('a.gcode', 'G28\nG1 X1 ; move\n\nM84\n');
  assert.equal(await countCommands(store.path('a.gcode')), 3);
  // Replaced by hand (scp): the size no longer matches, so the file is counted again.
  fs.appendFileSync(store.path('a.gcode'), 'G1 X2\n');
  assert.equal(await countCommands(store.path('a.gcode')), 4);
  // Copied in with no count at all: counted once, then remembered (the listing shows it too).
  fs.writeFileSync(path.join(dir, 'b.gcode'), 'G28\nM84\n');
  assert.equal(await countCommands(path.join(dir, 'b.gcode')), 2);
  assert.deepEqual((await store.list()).map((f) => [f.name, f.lines]), [['a.gcode', 4], ['b.gcode', 2]]);
});

test('old-Mac CR-only line endings are refused at upload (the sender splits on LF) and leave nothing', async (t) => {
  const dir = tempDir('qa-cr');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = new FileStore(dir);
  await store.init();
  await assert.rejects(store.save('cr.gcode', 'G28\rG1 X10 Y10\rM84\r'), (e: Error & { code?: string; message: string }) => {
    assert.equal(e.code, 'bad_gcode');
    assert.match(e.message, /line endings/i);
    return true;
  });
  // CRLF (Windows slicers) is fine and counted like LF.
  const info = await store.save('crlf.gcode', 'G28\r\nG1 X10 Y10\r\nM84\r\n');
  assert.equal(info.lines, 3);
  assert.equal(await countCommands(store.path('crlf.gcode')), 3);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['.crlf.gcode.meta', 'crlf.gcode']);
});

test('disk full: refused up front when the size is known, 507 midway when it is not; never a partial file', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('qa-full');
  const dataDir = path.join(dir, 'data'); const runDir = path.join(dir, 'run');
  const files = path.join(dataDir, 'files');
  fs.mkdirSync(files, { recursive: true }); fs.mkdirSync(runDir);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'qa-full', files]);
  t.after(() => { execFileSync('umount', [files]); fs.rmSync(dir, { recursive: true, force: true }); });
  const web = await startWeb({ dataDir, runDir });
  t.after(() => web.stop());
  const src = path.join(dir, 'big.gcode');
  bigGcode(src, 8);
  for (const chunked of [false, true]) {
    const r = await upload(web, src, 'big.gcode', { chunked });
    assert.equal(r.status, 507, JSON.stringify(r.json));
    const err = r.json.error as { code: string; message: string };
    assert.equal(err.code, 'disk_full');
    assert.match(err.message, /Not enough free space on the PrintBox/);
    assert.deepEqual(fs.readdirSync(files), [], `the partial spool file is removed (chunked: ${chunked})`);
    t.diagnostic(`chunked=${chunked}: 507 after ${r.ms} ms`);
  }
  // The box still works afterwards: a small file fits.
  const small = path.join(dir, 'small.gcode');
  fs.writeFileSync(small, 'G28\nM84\n');
  assert.equal((await upload(web, small, 'small.gcode')).status, 201);
});

test('resume seeks to the stored byte offset instead of re-reading the file, and falls back when it does not fit', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('qa-seek');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'big.gcode');
  const total = bigGcode(file, 60);
  const first = async (index: number, byte?: number) => {
    const t0 = Date.now();
    const r = await JobReader.open(file, index, byte);
    try { return { line: r.next(), ms: Date.now() - t0, bytes: r.bytesRead }; } finally { await r.close(); }
  };
  // The resume point of a job stopped after command k: index k+1, byte = end of command k.
  const k = total - 1000;
  const full = await first(k);
  const point = full.line as JobLine;
  const next = await first(k + 1);
  const seek = await first(k + 1, point.byteEnd);
  assert.deepEqual(seek.line, next.line, 'same next command, index and byte end as reading through');
  // Bytes, not milliseconds: the seek reads what follows the resume point, the fallback the whole file before it.
  const size = fs.statSync(file).size;
  assert.ok(seek.bytes <= size - point.byteEnd, `the seek read ${seek.bytes} bytes, only what follows the resume point`);
  assert.ok(next.bytes >= point.byteEnd, `reading through read ${next.bytes} bytes`);
  t.diagnostic(`resume near the end of 60 MB: seek ${seek.ms} ms (${seek.bytes} bytes), read-through ${next.ms} ms (${next.bytes} bytes)`);
  // A byte that is not a line end (file edited by hand) is not trusted: read through and count.
  const untrusted = await first(k + 1, point.byteEnd + 3);
  assert.deepEqual(untrusted.line, next.line);
  assert.ok(untrusted.bytes >= point.byteEnd, 'read through, not seeked');
});

test('a UTF-8 byte order mark (Windows editors) is accepted and never sent to the printer', async (t) => {
  const dir = tempDir('qa-bom');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = new FileStore(dir);
  await store.init();
  for (const [name, text] of [['comment.gcode', '; exported by Notepad\nG28\nG1 X10\n'], ['command.gcode', 'G28\nG1 X10\n']] as const) {
    const info = await store.save(name, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]));
    assert.equal(info.lines, 2, name);
    fs.rmSync(path.join(dir, `.${name}.meta`)); // count by reading, as for a file copied in by hand
    assert.equal(await countCommands(store.path(name)), 2, name);
    const r = await JobReader.open(store.path(name));
    assert.equal((r.next() as JobLine).cmd, 'G28', `${name}: the first command goes out without the BOM`);
    await r.close();
  }
});

test('a web killed mid-upload leaves a hidden spool file; the next start removes it (not one of a live upload)', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('qa-sweep');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const dataDir = path.join(dir, 'data'); const runDir = path.join(dir, 'run');
  const files = path.join(dataDir, 'files');
  fs.mkdirSync(files, { recursive: true }); fs.mkdirSync(runDir);
  const src = path.join(dir, 'big.gcode');
  bigGcode(src, 30);
  const web = await startWeb({ dataDir, runDir });
  // Never answered: the server dies mid-body (upload() ignores the resulting EPIPE/ECONNRESET).
  void upload(web, src, 'big.gcode', { chunked: true }).catch(() => undefined);
  const spool = () => fs.readdirSync(files).filter((f) => f.startsWith('.upload-'));
  for (let i = 0; i < 200 && spool().length === 0; i++) await new Promise((r) => setTimeout(r, 25));
  assert.equal(spool().length, 1, 'the upload is being spooled');
  web.child.kill('SIGKILL');
  await web.stop();
  assert.equal(spool().length, 1, 'the killed upload left its spool file');
  // A spool owned by a live process (pid 1 here) is an upload in progress elsewhere: kept.
  fs.writeFileSync(path.join(files, '.upload-1-live'), 'G28\n');
  // …unless nothing wrote to it for over a day (the pid was reused after a reboot).
  fs.writeFileSync(path.join(files, '.upload-1-old'), 'G28\n');
  fs.utimesSync(path.join(files, '.upload-1-old'), new Date(Date.now() - 2 * 86_400_000), new Date(Date.now() - 2 * 86_400_000));
  fs.writeFileSync(path.join(files, '.gone.gcode.meta'), '{"lines":2,"size":8}'); // its file was deleted by hand
  fs.writeFileSync(path.join(files, 'kept.gcode'), 'G28\nM84\n');
  fs.writeFileSync(path.join(files, '.kept.gcode.meta'), '{"lines":2,"size":8}');
  const again = await startWeb({ dataDir, runDir });
  t.after(() => again.stop());
  assert.equal((await request(again, { path: '/api/files', localAddress: '127.0.0.1' })).status, 200);
  assert.deepEqual(spool(), ['.upload-1-live']);
  assert.deepEqual(fs.readdirSync(files).filter((f) => !f.startsWith('.upload-')).sort(), ['.kept.gcode.meta', 'kept.gcode']);
});

test('an upload announced larger than the 512 MB limit is refused before any of it is sent', { timeout: 30_000 }, async (t) => {
  const dir = tempDir('qa-413');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const dataDir = path.join(dir, 'data'); const runDir = path.join(dir, 'run');
  fs.mkdirSync(dataDir); fs.mkdirSync(runDir);
  const web = await startWeb({ dataDir, runDir });
  t.after(() => web.stop());
  const t0 = Date.now();
  const reply = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port: web.httpsPort, path: '/api/files', method: 'POST', ca: web.ca, servername: '',
      checkServerIdentity: () => undefined, localAddress: '127.0.0.1',
      headers: { Host: `127.0.0.1:${web.httpsPort}`, 'Content-Type': 'multipart/form-data; boundary=x', 'Content-Length': String(600 * 1024 * 1024) },
    }, (res) => { let text = ''; res.on('data', (c: Buffer) => { text += c.toString(); }); res.on('end', () => { req.destroy(); resolve({ status: res.statusCode!, text }); }); });
    req.on('error', (e: NodeJS.ErrnoException) => { if (e.code !== 'ECONNRESET' && e.code !== 'EPIPE') reject(e); });
    req.write('--x\r\nContent-Disposition: form-data; name="file"; filename="huge.gcode"\r\n\r\nG28\n'); // and nothing more
  });
  assert.equal(reply.status, 413, reply.text);
  assert.deepEqual(JSON.parse(reply.text), { error: { code: 'file_too_large', message: 'Files larger than 512 MB are not accepted' } });
  assert.ok(Date.now() - t0 < 5000);
  assert.deepEqual(fs.readdirSync(path.join(dataDir, 'files')), []);
});

test('a refused line is quoted (as UTF-8, shortened) so it can be found in a large file', async (t) => {
  const dir = tempDir('qa-msg');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = new FileStore(dir);
  await store.init();
  await assert.rejects(store.save('m117.gcode', 'G28\nM117 Drucke Würfel *3 ; comment\n'),
    { message: 'Line 2: control character or "*" in command: “M117 Drucke Würfel *3”' });
  await assert.rejects(store.save('long.gcode', `G28\nG1 X${'1'.repeat(100)}\n`),
    { message: `Line 2: command longer than 80 bytes: “G1 X${'1'.repeat(36)}…”` });
  // The limit counts bytes (what Marlin's buffer holds): 40 two-byte letters are 80 bytes plus "M117 ".
  await assert.rejects(store.save('wide.gcode', `G28\nM117 ${'ü'.repeat(40)}\n`), { message: /^Line 2: command longer than 80 bytes/ });
  assert.deepEqual(fs.readdirSync(dir), []);
});
