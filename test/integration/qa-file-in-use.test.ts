/**
 * User QA: the file of an unfinished print is protected. Deleting or re-uploading it while it prints or
 * is paused is a 409 (the printer reopens it at a line index on resume: a deleted file used to strand
 * the job as "printing" with nothing feeding it, after a 500; a replaced one would resume in the middle
 * of another print). A file removed behind PrintBox's back makes resume a clear 409 before any head
 * move, and the job stays paused so it can be cancelled. Real web → printer.sock → virtual Marlin.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { startPrinterStack } from '../helpers/printer-stack.ts';
import { gcodeLines } from '../helpers/virtual-printer.ts';
import { multipart } from '../helpers/web.ts';

test('the file of a running or paused print cannot be deleted or replaced; a vanished file fails resume cleanly', { timeout: 90_000 }, async () => {
  const stack = await startPrinterStack({ tag: 'qa-inuse', printers: { 'vp-1': { baud: 250_000, latencyMs: 2 } }, web: true });
  const { call, dataDir } = stack;
  const files = path.join(dataDir, 'files');
  try {
    await stack.untilState('vp-1', 'idle');
    const original = ['G28', ...gcodeLines(40_000)].join('\n');
    const up = multipart('part.gcode', original);
    assert.equal((await call('POST', '/api/files', up.body, up.headers)).status, 201);
    assert.equal((await call('POST', '/api/printers/vp-1/job', { file: 'part.gcode' })).status, 202);

    const del = await call('DELETE', '/api/files/part.gcode');
    assert.equal(del.status, 409, del.text);
    assert.equal(del.json.error?.code, 'file_in_use');
    assert.match(del.json.error!.message, /part\.gcode.*being printed.*Cancel that print first/);
    const again = multipart('part.gcode', 'G28\nM84\n');
    const replace = await call('POST', '/api/files', again.body, again.headers);
    assert.equal(replace.status, 409, replace.text);
    assert.equal(fs.readFileSync(path.join(files, 'part.gcode'), 'utf8'), original, 'the printing file is untouched');
    assert.deepEqual(fs.readdirSync(files).filter((f) => f.startsWith('.upload-')), [], 'the refused upload left no spool file');

    assert.equal((await call('POST', '/api/printers/vp-1/job/pause')).json.state, 'paused');
    assert.equal((await call('DELETE', '/api/files/part.gcode')).status, 409, 'paused prints resume from the file');

    // Other files are not affected.
    const other = multipart('other.gcode', 'G28\nM84\n');
    assert.equal((await call('POST', '/api/files', other.body, other.headers)).status, 201);
    assert.equal((await call('DELETE', '/api/files/other.gcode')).status, 204);

    // Removed by hand (ssh): resume refuses before any move, the job stays paused and can be cancelled.
    fs.rmSync(path.join(files, 'part.gcode'));
    const resume = await call('POST', '/api/printers/vp-1/job/resume');
    assert.equal(resume.status, 409, resume.text);
    assert.equal(resume.json.error?.code, 'file_missing');
    assert.match(resume.json.error!.message, /no longer on the PrintBox.*Cancel it/);
    const job = await call('GET', '/api/printers/vp-1/job');
    assert.equal(job.json.state, 'paused');
    assert.equal((await call('POST', '/api/printers/vp-1/job/cancel')).json.state, 'cancelled');
    await stack.untilState('vp-1', 'idle');
  } finally {
    await stack.close();
  }
});
