/**
 * In a real browser on the device (local session): the file list shows the thumbnail the slicer
 * embedded and its estimate, filament and layer height; a file without a slicer header shows an empty
 * frame and PrintBox's own estimate (≈); the print screen shows the thumbnail and the slicer's estimate
 * of the file being printed. Real services: web, printer service with a virtual printer.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { multipart, REPO, request } from '../helpers/web.ts';
import { launch, screenshot, type LaunchedBrowser } from './support.ts';
import { startUiStack, type UiStack } from './stack.ts';

let stack: UiStack;
let b: LaunchedBrowser;
const pageErrors: string[] = [];
const local = () => `https://127.0.0.1:${stack.web.httpsPort}`;

async function upload(name: string, content: Buffer | string): Promise<void> {
  const { body, headers } = multipart(name, content);
  const up = await request(stack.web, { method: 'POST', path: '/api/files', localAddress: '127.0.0.1', body, headers });
  assert.equal(up.status, 201, up.text);
}

before(async () => {
  stack = await startUiStack({ printer: true });
  await upload('cube-prusa.gcode', fs.readFileSync(path.join(REPO, 'test/fixtures/gcode/prusaslicer-2.5.0-thumbnails.gcode')));
  await upload('hand-written.gcode', 'G90\nM83\nG92 E0\nG1 Z0.2 F600\n' + 'G1 X100 Y0 E5 F3000\nG1 X0 Y0 E5\n'.repeat(30));
  b = await launch({ phone: true });
  b.page.on('pageerror', (e) => pageErrors.push(e.message));
});

after(async () => {
  await b?.close();
  await stack?.stop();
});

const row = (name: string) => b.page.getByRole('table', { name: 'Uploaded files' }).getByRole('row').filter({ hasText: name });

test('the file list shows the embedded thumbnail, the slicer estimate, filament and layer height', async () => {
  const p = b.page;
  await p.goto(local() + '/#/files');
  const thumb = row('cube-prusa.gcode').getByTestId('file-thumbnail');
  await thumb.waitFor();
  // Loaded, not a broken-image icon: the browser decoded the PNG the slicer embedded (64x48).
  await p.waitForFunction((el) => (el as HTMLImageElement).complete && (el as HTMLImageElement).naturalWidth > 0, await thumb.elementHandle());
  assert.deepEqual(await thumb.evaluate((el) => [(el as HTMLImageElement).naturalWidth, (el as HTMLImageElement).naturalHeight]), [64, 48]);
  assert.equal(await thumb.getAttribute('alt'), 'Preview of cube-prusa.gcode');
  assert.equal(await row('cube-prusa.gcode').getByTestId('file-facts').innerText(), '12 min 21 s · 434 mm filament · 0.2 mm layers');
  await screenshot(p, 'files-metadata');
});

test('a file with no slicer header shows an empty frame and the estimate PrintBox computed from its moves', async () => {
  const r = row('hand-written.gcode');
  assert.equal(await r.getByTestId('file-thumbnail').count(), 0);
  assert.match(await r.getByTestId('file-facts').innerText(), /^≈ \d+ (s|min \d+ s) · 300 mm filament$/);
});

test('the print screen shows the thumbnail and the slicer estimate of the file being printed', { timeout: 60_000 }, async () => {
  const printers = await request(stack.web, { path: '/api/printers', localAddress: '127.0.0.1' });
  const id = (printers.json as unknown as Array<{ id: string }>)[0]!.id;
  const start = await request(stack.web, { method: 'POST', path: `/api/printers/${encodeURIComponent(id)}/job`, localAddress: '127.0.0.1', body: { file: 'cube-prusa.gcode' } });
  assert.ok(start.status >= 200 && start.status < 300, start.text);
  try {
    const p = b.page;
    await p.goto(local() + `/#/printers/${encodeURIComponent(id)}`);
    const panel = p.getByRole('region', { name: 'Print job' });
    await panel.getByTestId('job-file-facts').waitFor();
    assert.equal(await panel.getByTestId('job-file-facts').innerText(), 'Sliced: 12 min 21 s · 434 mm filament · 0.2 mm layers');
    const thumb = panel.getByTestId('file-thumbnail');
    await p.waitForFunction((el) => (el as HTMLImageElement).complete && (el as HTMLImageElement).naturalWidth > 0, await thumb.elementHandle());
    await screenshot(p, 'job-metadata');
  } finally {
    await request(stack.web, { method: 'POST', path: `/api/printers/${encodeURIComponent(id)}/job/cancel`, localAddress: '127.0.0.1', body: {} });
  }
  assert.deepEqual(pageErrors, []);
});
