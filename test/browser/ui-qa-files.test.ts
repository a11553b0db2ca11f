/**
 * User QA in a real browser at phone width (390 px), on the device itself (local session): a 40 MB
 * slicer file uploads with progress and then a "saving" phase (every line is checked while it arrives), the list shows its line count on one
 * line, a second large file on a full disk shows the server's words (not a code, not "connection
 * lost") and leaves no partial file, pause says what it is doing while the printer parks, and the print screen offers a file uploaded
 * during a print once it ends, and a file prints straight from the list.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { multipart, request } from '../helpers/web.ts';
import { launch, screenshot, type LaunchedBrowser } from './support.ts';
import { startUiStack, type UiStack } from './stack.ts';

let stack: UiStack;
let b: LaunchedBrowser;
let filesDir = '';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ui-qa-files-'));
const pageErrors: string[] = [];

/** `mb` MB of G-code; returns the number of commands. */
function gcode(file: string, mb: number): number {
  const lines = Array.from({ length: 10_000 }, (_, i) => `G1 X${(i % 200).toFixed(3)} Y${((i * 7) % 200).toFixed(3)} E${(i * 0.01).toFixed(5)}`);
  const chunk = Buffer.from(lines.join('\n') + '\n');
  const fd = fs.openSync(file, 'w');
  let n = 0;
  for (let size = 0; size < mb * 1024 * 1024; size += chunk.length) { fs.writeSync(fd, chunk); n++; }
  fs.closeSync(fd);
  return n * lines.length;
}

before(async () => {
  stack = await startUiStack({
    printer: true,
    // A 64 MB files dir: the first 40 MB file fits, the second cannot.
    seed: (dataDir) => {
      filesDir = path.join(dataDir, 'files');
      fs.mkdirSync(filesDir, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'ui-qa-files', filesDir]);
    },
  });
  b = await launch({ phone: true });
  b.page.on('pageerror', (e) => pageErrors.push(e.message));
});

after(async () => {
  await b?.close();
  if (filesDir) execFileSync('umount', ['-l', filesDir]);
  await stack?.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

const local = () => `https://127.0.0.1:${stack.web.httpsPort}`;

/** Uploads a 10,001-line file through the API, as another tab or a slicer would. */
async function uploadByApi(name: string): Promise<void> {
  const { body, headers } = multipart(name, `G28\n${'G1 X10 Y10\nG1 X20 Y20\n'.repeat(5000)}`);
  const up = await request(stack.web, { method: 'POST', path: '/api/files', localAddress: '127.0.0.1', body, headers });
  assert.equal(up.status, 201, up.text);
}

/** Cancels the print on the open printer screen through its confirmation, as a user does. */
async function cancelPrint(p: LaunchedBrowser['page']): Promise<void> {
  await p.getByRole('button', { name: 'Cancel print' }).click();
  await p.getByRole('dialog').getByRole('button', { name: 'Cancel print' }).click();
  await p.getByText('Print cancelled.').waitFor();
}

test('a 40 MB file uploads with progress, then a saving phase; the list shows its lines on one line', { timeout: 60_000 }, async () => {
  const file = path.join(work, 'benchy-0.2mm.gcode');
  const commands = gcode(file, 40);
  const p = b.page;
  await p.goto(local() + '/#/files');
  const phases: string[] = [];
  // Record what the status line says while the request runs (the saving phase lasts a fraction of a second here).
  await p.exposeFunction('qaPhase', (t: string) => { phases.push(t); });
  await p.evaluate(() => {
    new MutationObserver(() => {
      const s = document.querySelector('.upload[role=status]');
      if (s?.textContent) (window as unknown as { qaPhase(t: string): void }).qaPhase(s.textContent.trim());
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  await p.getByLabel('Choose G-code files to upload').setInputFiles(file);
  // A second file cannot be chosen while one uploads (it used to be ignored without a word).
  await p.locator('input[type=file]:disabled').waitFor({ state: 'attached', timeout: 2000 });
  await p.getByText(`Uploaded benchy-0.2mm.gcode (${commands.toLocaleString('en-US')} lines).`).waitFor();
  assert.ok(phases.some((t) => /Uploading benchy-0\.2mm\.gcode… \d+ % of 40\.\d MB/.test(t)), `upload progress shown: ${phases.slice(0, 5).join(' | ')}`);
  assert.ok(phases.some((t) => /Saving benchy-0\.2mm\.gcode on the PrintBox — a large file takes a few seconds…/.test(t)), `saving phase shown: ${[...new Set(phases)].slice(-5).join(' | ')}`);
  const lines = p.getByRole('table', { name: 'Uploaded files' }).getByText(/lines$/);
  const box = (await lines.boundingBox())!;
  assert.ok(box.height < 24, `"N lines" wraps at 390 px (height ${box.height})`);
  const width = await p.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `the files list with its Print/Delete actions is ${width} px wide at 390 px`);
  await screenshot(p, 'ui-qa-files-uploaded');
});

test('replacing asks first; a second large file on a full disk: the server words in the UI, no partial file left', { timeout: 60_000 }, async () => {
  const file = path.join(work, 'second.gcode');
  gcode(file, 40);
  const p = b.page;
  // The same name again asks before replacing; "Go back" uploads nothing.
  await p.getByLabel('Choose G-code files to upload').setInputFiles(path.join(work, 'benchy-0.2mm.gcode'));
  const dialog = p.getByRole('dialog');
  await dialog.getByText('A file with this name is already on the PrintBox. The upload replaces it.').waitFor();
  await dialog.getByRole('button', { name: 'Go back' }).click();
  await dialog.waitFor({ state: 'hidden' });
  assert.equal(await p.locator('.upload').count(), 0, 'nothing is uploading');
  await p.getByLabel('Choose G-code files to upload').setInputFiles(file);
  const alert = p.getByRole('alert');
  await alert.waitFor();
  assert.match((await alert.textContent())!, /^Upload of second\.gcode failed: Not enough free space on the PrintBox for this file\. Delete old files and try again\.$/);
  await screenshot(p, 'ui-qa-files-disk-full');
  assert.deepEqual(fs.readdirSync(filesDir).sort(), ['.benchy-0.2mm.gcode.meta', 'benchy-0.2mm.gcode']);
});

test('pause and cancel say what they are doing; a file uploaded during a print is offered once it ends', { timeout: 90_000 }, async () => {
  const p = b.page;
  await p.goto(local() + '/#/printers/virtual-1');
  await p.getByRole('button', { name: 'Start print' }).click();
  const pause = p.getByRole('button', { name: 'Pause' });
  await pause.waitFor();
  // On a real printer the pause request runs for seconds (moves in flight, then the park); the virtual
  // printer parks in milliseconds, too fast to look at. Hold the request in the browser until the
  // screen has been checked, so what is checked is the screen while a pause is under way, on any machine.
  let release!: () => void;
  const held = new Promise<void>((r) => { release = r; });
  const pattern = '**/api/printers/*/job/pause';
  await p.route(pattern, async (route) => { await held; await route.continue(); });
  try {
    await pause.click();
    await p.getByRole('button', { name: 'Pausing…' }).waitFor({ timeout: 5000 });
    // …and the job does not claim "parked" before it is.
    await p.getByText('Pausing: the printer finishes the moves already sent, then parks the head…').waitFor({ timeout: 5000 });
    assert.equal(await p.getByRole('button', { name: 'Resume' }).count(), 0, 'no Resume while pausing');
    await screenshot(p, 'ui-qa-files-pausing');
  } finally {
    release();
  }
  await p.getByRole('button', { name: 'Resume' }).waitFor();
  await p.unroute(pattern);
  await p.getByText('Paused. The head is parked away from the print.').waitFor();

  // Uploaded elsewhere (another tab, the API) while this screen is open.
  await uploadByApi('later.gcode');

  await cancelPrint(p);
  // No reload: the list is fetched again when the print ends.
  await p.waitForFunction(() => [...document.querySelectorAll('#print-file option')].some((o) => o.textContent === 'later.gcode'), null, { timeout: 5000 });
  await p.getByLabel('File to print').selectOption('later.gcode');
  await p.getByRole('button', { name: 'Start print' }).click();
  await p.locator('.job .file', { hasText: /^later\.gcode$/ }).waitFor();
  await cancelPrint(p);
  assert.deepEqual(pageErrors, []);
});

test('a file prints straight from the files list, after a confirmation', { timeout: 60_000 }, async () => {
  const p = b.page;
  // Its own file and an idle printer, so this test does not lean on the one before.
  await uploadByApi('later.gcode');
  await request(stack.web, { method: 'POST', path: '/api/printers/virtual-1/job/cancel', localAddress: '127.0.0.1', body: '{}', headers: { 'Content-Type': 'application/json' } });
  await p.goto(local() + '/#/files');
  await p.getByRole('button', { name: 'Print later.gcode on PrintBox Virtual 1' }).click();
  const dialog = p.getByRole('dialog');
  await dialog.getByText('PrintBox Virtual 1 starts printing it now.').waitFor();
  await screenshot(p, 'ui-qa-files-print-confirm');
  await dialog.getByRole('button', { name: 'Start print' }).click();
  await p.waitForURL(/#\/printers\/virtual-1$/);
  await p.locator('.job .file', { hasText: /^later\.gcode$/ }).waitFor();
  await cancelPrint(p);
  assert.deepEqual(pageErrors, []);
});

test('several files chosen (or dropped) at once are uploaded one after another, each with its result', { timeout: 60_000 }, async () => {
  const p = b.page;
  await p.goto(local() + '/#/files');
  const names = ['multi-a.gcode', 'multi-b.gcode', 'multi-bad.gcode'];
  fs.writeFileSync(path.join(work, names[0]!), 'G28\nG1 X1 Y1\n');
  fs.writeFileSync(path.join(work, names[1]!), 'G28\nG1 X2 Y2\nG1 X3 Y3\n');
  fs.writeFileSync(path.join(work, names[2]!), 'G28\n\u0001garbage\n');
  await p.getByLabel('Choose G-code files to upload').setInputFiles(names.map((n) => path.join(work, n)));
  await p.getByText('Uploaded multi-a.gcode (2 lines). Uploaded multi-b.gcode (3 lines).').waitFor();
  assert.match((await p.getByRole('alert').textContent())!, /^Upload of multi-bad\.gcode failed: /, 'the bad one says so, the good ones are kept');
  const table = p.getByRole('table', { name: 'Uploaded files' });
  await table.locator('td.file', { hasText: /^multi-a\.gcode/ }).waitFor();
  await table.locator('td.file', { hasText: /^multi-b\.gcode/ }).waitFor();
  assert.equal(fs.existsSync(path.join(filesDir, 'multi-bad.gcode')), false);
  assert.deepEqual(pageErrors, []);
});

test('a model or binary G-code is refused before any of it is sent, with what to do instead', { timeout: 60_000 }, async () => {
  const p = b.page;
  await p.goto(local() + '/#/files');
  fs.writeFileSync(path.join(work, 'benchy.stl'), Buffer.alloc(8 * 1024 * 1024, 1)); // a model dropped by mistake
  fs.writeFileSync(path.join(work, 'benchy.bgcode'), Buffer.from('GCDE\x01\x00\x00\x00', 'latin1'));
  fs.writeFileSync(path.join(work, 'renamed.gcode'), Buffer.concat([Buffer.from('G28\n'), Buffer.alloc(1024)]));
  fs.writeFileSync(path.join(work, 'fine.gcode'), 'G28\nG1 X5 Y5\n');
  const posts: string[] = [];
  const onRequest = (r: { method(): string; url(): string }) => { if (r.method() === 'POST' && r.url().endsWith('/api/files')) posts.push(r.url()); };
  p.on('request', onRequest);
  try {
    await p.getByLabel('Choose G-code files to upload').setInputFiles(['benchy.stl', 'benchy.bgcode', 'renamed.gcode', 'fine.gcode'].map((n) => path.join(work, n)));
    await p.getByText('Uploaded fine.gcode (2 lines).').waitFor();
    const alert = (await p.getByRole('alert').first().textContent())!;
    assert.match(alert, /benchy\.stl is a 3D model, not G-code\. Slice it first/);
    assert.match(alert, /benchy\.bgcode is binary G-code .*turn off "Supports binary G-code"/);
    assert.match(alert, /renamed\.gcode is not G-code text: it contains binary data\./);
    assert.equal(posts.length, 1, 'only fine.gcode was sent');
  } finally {
    p.off('request', onRequest);
  }
  await screenshot(p, 'ui-qa-files-not-gcode');
  assert.deepEqual(fs.readdirSync(filesDir).filter((f) => /benchy\.(stl|bgcode)|renamed/.test(f)), []);
  assert.deepEqual(pageErrors, []);
});

test('the files list is live: a file uploaded or deleted elsewhere appears and goes without a reload', { timeout: 60_000 }, async () => {
  const p = b.page;
  // Both tabs load afresh and have their event stream open before anything changes.
  const streamOpen = (page: typeof p) => page.waitForResponse((r) => r.url().endsWith('/api/events') && r.status() === 200);
  const other = await b.context.newPage(); // a second tab on the same device
  try {
    let open = streamOpen(p);
    await p.goto(local() + '/#/files');
    await p.reload();
    await open;
    open = streamOpen(other);
    await other.goto(local() + '/#/printers/virtual-1');
    await open;
    await p.getByRole('table', { name: 'Uploaded files' }).waitFor();
    await uploadByApi('from-slicer.gcode');
    const row = p.getByRole('table', { name: 'Uploaded files' }).locator('td.file', { hasText: /^from-slicer\.gcode/ });
    await row.waitFor({ timeout: 5000 });
    // The print screen in the other tab offers it too.
    await other.waitForFunction(() => [...document.querySelectorAll('#print-file option')].some((o) => o.textContent === 'from-slicer.gcode'), null, { timeout: 5000 });
    const del = await request(stack.web, { method: 'DELETE', path: '/api/files/from-slicer.gcode', localAddress: '127.0.0.1' });
    assert.equal(del.status, 204, del.text);
    await row.waitFor({ state: 'detached', timeout: 5000 });
    await other.waitForFunction(() => ![...document.querySelectorAll('#print-file option')].some((o) => o.textContent === 'from-slicer.gcode'), null, { timeout: 5000 });
  } finally {
    await other.close();
  }
  assert.deepEqual(pageErrors, []);
});
