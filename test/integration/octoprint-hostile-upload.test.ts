/**
 * The OctoPrint upload (`POST /api/files/local`) against what a broken or hostile client sends that the
 * API test does not: a body announced at 2 GB, absurd file names, and both at the root addressing too.
 * Each answer is OctoPrint's `{"error": "…"}` with a clear message, nothing is written outside (or left
 * inside) the files directory, and a print running meanwhile goes on.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { form, startOctoStack, type OctoStack } from '../helpers/octoprint.ts';
import { gcodeLines } from '../helpers/virtual-printer.ts';

const PRINTER = 'vp-1';
let s: OctoStack;

before(async () => { s = await startOctoStack('octo-hostile', [PRINTER], { 'long.gcode': ['G28', ...gcodeLines(8000)].join('\n') + '\n' }); });
after(async () => { await s?.close(); });

/** Announces `length` bytes, sends the first part's header and a line, then waits for the answer. */
function announce(urlPath: string, length: number): Promise<{ status: number; text: string; ms: number }> {
  const web = s.stack.web!;
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port: web.httpsPort, path: urlPath, method: 'POST', ca: web.ca, servername: '',
      checkServerIdentity: () => undefined, localAddress: '127.0.0.2',
      headers: {
        Host: `127.0.0.1:${web.httpsPort}`, 'X-Api-Key': s.keys.api,
        'Content-Type': 'multipart/form-data; boundary=x', 'Content-Length': String(length),
      },
    }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString(); });
      res.on('end', () => { req.destroy(); resolve({ status: res.statusCode!, text, ms: Date.now() - t0 }); });
    });
    req.on('error', (e: NodeJS.ErrnoException) => { if (e.code !== 'ECONNRESET' && e.code !== 'EPIPE') reject(e); });
    req.write('--x\r\nContent-Disposition: form-data; name="file"; filename="huge.gcode"\r\n\r\nG28\n'); // and nothing more
  });
}

const filesDir = () => path.join(s.stack.dataDir, 'files');
const listing = () => ({ data: fs.readdirSync(s.stack.dataDir).sort(), files: fs.readdirSync(filesDir()).sort() });

test('a 2 GB body, absurd names and a file part without a name: OctoPrint-style errors, nothing written, the print goes on', { timeout: 90_000 }, async () => {
  await s.stack.printUntil(PRINTER, 'long.gcode', 20);
  const before = listing(); // after the start, which describes the file (its .meta) on first use
  const sent = (await s.stack.client.call('jobs.get', { printerId: PRINTER })).lines_sent;

  for (const url of [`/octoprint/${PRINTER}/api/files/local`, '/api/files/local']) {
    const big = await announce(url, 2 * 1024 ** 3);
    assert.equal(big.status, 413, `${url}: ${big.text}`);
    assert.deepEqual(JSON.parse(big.text), { error: 'Files larger than 512 MB are not accepted' }, url);
    assert.ok(big.ms < 5000, `${url}: refused before the body (${big.ms} ms)`);
  }

  // OctoPrint answers a name it does not take as G-code with 415, anything else wrong with the name with 400
  const absurd: Array<[string, string, RegExp, number?]> = [
    ['500 characters', `${'a'.repeat(494)}.gcode`, /1-120 characters/],
    ['only an extension', '.gcode', /dot/],
    ['a control character (invalid in a MIME header too)', 'bad\x07name.gcode', /control characters|could not be read/],
    ['a shell metacharacter', 'x;rm -rf $HOME.gcode', /not allowed/],
    ['a right-to-left override', 'invoice\u202Eedocg.gcode', /not allowed/],
    ['no extension', 'Makefile', /invalid type/, 415],
    ['an empty name', '', /No file to upload|File name/],
  ];
  for (const [what, name, message, status = 400] of absurd) {
    const body = form([['file', name, 'G28\n']]);
    const r = await s.octo(PRINTER, 'api/files/local', { raw: body.raw, headers: body.headers });
    assert.equal(r.status, status, `${what}: ${r.status} ${r.text}`);
    assert.deepEqual(Object.keys(r.json), ['error'], `${what}: ${r.text}`);
    assert.match(String(r.json.error), message, what);
  }

  assert.deepEqual(listing(), before, 'nothing written next to or inside the files dir');
  const job = await s.stack.client.call('jobs.get', { printerId: PRINTER });
  assert.deepEqual([job.state, job.file], ['printing', 'long.gcode'], 'the print runs on');
  assert.ok(job.lines_sent > sent, `still sending (${sent} → ${job.lines_sent})`);
  assert.equal((await s.octo(PRINTER, 'api/job', { body: { command: 'cancel' } })).status, 204);
  await s.stack.untilState(PRINTER, 'idle');
});
