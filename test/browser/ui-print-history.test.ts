/**
 * The History screen in a real browser: a signed-in PAM operator (a remote client) sees the empty
 * state, prints a short file on the virtual printer, finds it in the table with who printed it, where,
 * the result and the filament — without reloading the page — also at phone width, and deletes the entry again.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, screenshot, type LaunchedBrowser } from './support.ts';
import { startUiStack, type UiStack } from './stack.ts';

const FILE = 'history-cube.gcode';

let stack: UiStack;
let b: LaunchedBrowser;
const pageErrors: string[] = [];

before(async () => {
  stack = await startUiStack({ printer: true });
  b = await launch({ netns: stack.netns });
  b.page.on('pageerror', (e) => pageErrors.push(e.message));
});

after(async () => {
  await b?.close();
  await stack?.stop();
});

test('a short print shows up in the History screen and can be deleted there', { timeout: 120_000 }, async () => {
  const p = b.page;
  await p.goto(stack.base + '/');
  await p.getByLabel('Username or cloud email').fill(stack.user.name);
  await p.getByLabel('Password', { exact: true }).fill(stack.user.password);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByRole('navigation', { name: 'Main' }).waitFor({ timeout: 60_000 });

  await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'History' }).click();
  await p.getByRole('heading', { level: 1, name: 'History' }).waitFor();
  await p.getByTestId('history-empty').waitFor();

  // Upload and start through the same API the screens use; the History screen stays open meanwhile.
  const started = await p.evaluate(async (name) => {
    const text = ['; filament used [mm] = 8.4', 'M83', 'G28', ...Array.from({ length: 200 }, (_, i) => `G1 X${i % 100} Y${i % 7} E0.042`)].join('\n');
    const form = new FormData();
    form.append('file', new File([text], name));
    const up = await fetch('/api/files', { method: 'POST', body: form });
    if (up.status !== 201) return `upload ${up.status} ${await up.text()}`;
    const job = await fetch('/api/printers/virtual-1/job', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ file: name }) });
    return job.status === 202 ? 'ok' : `start ${job.status} ${await job.text()}`;
  }, FILE);
  assert.equal(started, 'ok');

  const row = p.getByRole('table', { name: 'Print history' }).getByRole('row', { name: new RegExp(FILE.replace('.', '\\.')) });
  await row.waitFor({ timeout: 60_000 });
  const text = (await row.innerText()).replace(/\s+/g, ' ');
  assert.match(text, /PrintBox Virtual 1/);
  assert.ok(text.includes(stack.user.name), `the user who printed it: ${text}`);
  assert.match(text, /Completed/);
  assert.match(text, /8 mm of 8 mm/, `filament counted (200 × 0.042 mm) and the slicer's figure: ${text}`);
  await screenshot(p, 'history');
  // A phone: the table must not push the page sideways (the user column gives way, as the upload time on Files).
  const desktop = p.viewportSize();
  await p.setViewportSize({ width: 390, height: 844 });
  await p.waitForTimeout(200);
  await screenshot(p, 'history-phone');
  const width = await p.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `the History screen is ${width} px wide at 390 px`);
  if (desktop) await p.setViewportSize(desktop);

  await row.getByRole('button', { name: /^Delete / }).click();
  await p.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
  await p.getByTestId('history-empty').waitFor();
  assert.deepEqual(await p.evaluate(async () => (await fetch('/api/jobs')).json()), []);
  assert.deepEqual(pageErrors, []);
});
