/**
 * The printer web routes over real HTTPS → web → printer.sock → printer service → pty → virtual
 * Marlin: uploads (hostile names and malformed G-code are clear 4xx, nothing written outside the
 * files dir), jobs, SSE events, emergency stop, and 503 when the printer service is down.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { test } from 'node:test';
import { startPrinterStack } from '../helpers/printer-stack.ts';
import { gcodeLines } from '../helpers/virtual-printer.ts';
import { multipart, type WebServer } from '../helpers/web.ts';

/** Reads an SSE stream until `until` matches the collected text. */
function sse(web: WebServer, until: RegExp, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const req = https.get({
      host: '127.0.0.1', port: web.httpsPort, path: '/api/events', localAddress: '127.0.0.1', ca: web.ca, agent: false,
      headers: { Host: `127.0.0.1:${web.httpsPort}`, Accept: 'text/event-stream' },
      servername: '', checkServerIdentity: (_h, cert) => tls.checkServerIdentity('127.0.0.1', cert),
    }, (res) => {
      assert.equal(res.headers['content-type']?.split(';')[0], 'text/event-stream');
      res.on('data', (c: Buffer) => { text += c.toString(); if (until.test(text)) { clearTimeout(t); req.destroy(); resolve(text); } });
    });
    const t = setTimeout(() => { req.destroy(); reject(new Error(`SSE timeout; got:\n${text.slice(0, 2000)}`)); }, timeoutMs);
    req.on('error', () => undefined);
  });
}

test('printer web routes: uploads, hostile input, jobs, SSE, emergency stop, 503 when down', { timeout: 120_000 }, async () => {
  const stack = await startPrinterStack({ tag: 'pweb', printers: { 'vp-1': { baud: 250_000, latencyMs: 2, record: true } }, web: true });
  const { dataDir, dir, call } = stack;
  const web = stack.web!;
  const vp = stack.vps['vp-1']!;
  try {
    await stack.untilState('vp-1', 'idle');

    // Upload: a good file.
    const good = ['; sliced by a test', 'G28', ...gcodeLines(2000)].join('\n');
    const up = multipart('benchy (1).gcode', good);
    const ok = await call('POST', '/api/files', up.body, up.headers);
    assert.equal(ok.status, 201, ok.text);
    const { metadata, ...stored } = ok.json as Record<string, unknown>;
    assert.deepEqual(stored, { name: 'benchy (1).gcode', size: Buffer.byteLength(good), lines: 2001 });
    assert.equal(typeof metadata, 'object', 'the answer carries what the slicer embedded (fields null here)');

    // Hostile names: 400, nothing anywhere.
    for (const name of ['../evil.gcode', '..\\evil.gcode', '/tmp/evil.gcode', '.hidden.gcode', 'evil.sh', 'a\tb.gcode', 'x'.repeat(300) + '.gcode', '..']) {
      const m = multipart(name, 'G28\n');
      const r = await call('POST', '/api/files', m.body, m.headers);
      assert.equal(r.status, 400, `${JSON.stringify(name)} → ${r.status} ${r.text}`);
      assert.equal(r.json.error?.code, 'bad_filename', name);
    }
    // Malformed G-code: 400 with the line number; nothing stored.
    const bad: Array<[string, Buffer | string, RegExp]> = [
      ['binary.gcode', Buffer.from([0x47, 0x31, 0x00, 0xff, 0x0a]), /Line 1: binary/],
      ['empty.gcode', '; only a comment\n\n', /no G-code commands/],
      ['long.gcode', 'G28\nG1 X' + '1'.repeat(200) + '\n', /Line 2: command longer/],
      ['star.gcode', 'G28\nN5 G1 X1*77\n', /Line 2/],
      ['junk.gcode', 'hello world\n#!/bin/sh\n', /Line 2: command does not start with a letter/],
    ];
    for (const [name, content, re] of bad) {
      const m = multipart(name, content);
      const r = await call('POST', '/api/files', m.body, m.headers);
      assert.equal(r.status, 400, `${name}: ${r.text}`);
      assert.equal(r.json.error?.code, 'bad_gcode');
      assert.match(r.json.error!.message, re);
    }
    const wrongField = multipart('x.gcode', 'G28\n', 'upload');
    assert.equal((await call('POST', '/api/files', wrongField.body, wrongField.headers)).status, 400);
    assert.equal((await call('POST', '/api/files', { file: 'x' })).status, 415, 'JSON is not an upload');
    assert.deepEqual(fs.readdirSync(path.join(dataDir, 'files')).sort(), ['.benchy (1).gcode.meta', 'benchy (1).gcode'], 'only the good file (+ its line count), no spool leftovers');
    assert.ok(!fs.existsSync(path.join(dataDir, 'evil.gcode')) && !fs.existsSync('/tmp/evil.gcode') && !fs.existsSync(path.join(dir, 'evil.gcode')));
    const list = await call('GET', '/api/files');
    assert.deepEqual((list.json as unknown as Array<{ name: string; lines: number }>).map((f) => [f.name, f.lines]), [['benchy (1).gcode', 2001]]);
    assert.equal((await call('DELETE', '/api/files/..%2Fdata')).status, 400);
    assert.equal((await call('DELETE', '/api/files/missing.gcode')).status, 404);

    // Jobs + SSE.
    const events = sse(web, /event: job\ndata: [^\n]*"state":"printing"/);
    const start = await call('POST', '/api/printers/vp-1/job', { file: 'benchy (1).gcode' });
    assert.equal(start.status, 202, start.text);
    const stream = await events;
    assert.match(stream, /^event: snapshot\ndata: \{"printers":\[/);
    assert.equal((await call('POST', '/api/printers/vp-1/job', { file: '../../etc/passwd' })).status, 400);
    assert.equal((await call('POST', '/api/printers/vp-1/job', { file: 'benchy (1).gcode' })).status, 409);
    const paused = await call('POST', '/api/printers/vp-1/job/pause');
    assert.equal(paused.status, 200, paused.text);
    assert.equal(paused.json.state, 'paused');
    assert.ok(vp.sim.executed.includes('G1 Z10 F600'), 'parked: lifted');
    assert.equal((await call('POST', '/api/printers/vp-1/job/resume')).json.state, 'printing');
    const job = await call('GET', '/api/printers/vp-1/job');
    assert.equal(job.status, 200);
    for (const k of ['state', 'file', 'progress', 'lines_sent', 'eta_s']) assert.ok(k in job.json, k);
    const cancelled = await call('POST', '/api/printers/vp-1/job/cancel');
    assert.equal(cancelled.json.state, 'cancelled');
    await new Promise((res) => setTimeout(res, 300));
    assert.ok(vp.sim.executed.includes('M104 S0') && vp.sim.executed.includes('M140 S0'), 'heaters off on cancel');

    // Terminal + emergency stop.
    assert.equal((await call('POST', '/api/printers/vp-1/command', { gcode: 'M105' })).status, 202);
    assert.equal((await call('POST', '/api/printers/vp-1/command', { gcode: 'G1 X1\nM112' })).status, 400);
    assert.equal((await call('POST', '/api/printers/nope/command', { gcode: 'M105' })).status, 404);
    const stop = await call('POST', '/api/printers/vp-1/emergency-stop');
    assert.equal(stop.status, 200, stop.text);
    await new Promise((res) => setTimeout(res, 300));
    assert.equal((await call('GET', '/api/printers/vp-1')).json.state, 'error');

    // Service down → 503.
    await stack.stopPrinter();
    const down = await call('GET', '/api/printers');
    assert.equal(down.status, 503);
    assert.equal(down.json.error?.code, 'service_unavailable');
  } finally {
    await stack.close();
  }
});
