/**
 * Firmware prompts in a real browser: a signed-in PAM operator (a remote client) prints a file with an
 * M600 filament change on the virtual Marlin (HOST_PROMPT_SUPPORT). The firmware's "Nozzle Parked" dialog
 * appears on whatever screen is open, with the firmware's own text and button; clicking it sends M876 S0;
 * the "Paused" dialog offers PurgeMore / Continue; Continue sends M876 S1, the printer resumes, the dialog
 * closes and the print completes with the answers in its history (API and History screen). A status message (M117) arrives as a
 * toast. Screenshots: test-artifacts/screenshots/host-prompt-*.png.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, screenshot, type LaunchedBrowser } from './support.ts';
import { startUiStack, type UiStack } from './stack.ts';

const FILE = 'filament-change.gcode';

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

const answered = (command: string) => stack.printer!.waitFor(new RegExp(`prompt answered .*"command":"${command}"`), 10_000);

test('an M600 filament change is answered through the prompt dialog in the browser', { timeout: 150_000 }, async () => {
  const p = b.page;
  await p.goto(stack.base + '/');
  await p.getByLabel('Username or cloud email').fill(stack.user.name);
  await p.getByLabel('Password', { exact: true }).fill(stack.user.password);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByRole('navigation', { name: 'Main' }).waitFor({ timeout: 60_000 });
  await p.locator('.printer-card .badge', { hasText: 'Ready' }).waitFor({ timeout: 30_000 });

  // A status message from the printer (M117 → //action:notification) shows as a toast.
  const sent = await p.evaluate(async () => (await fetch('/api/printers/virtual-1/command', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ gcode: 'M117 Bed levelled' }),
  })).status);
  assert.equal(sent, 202);
  const toast = p.getByRole('status', { name: 'Printer notifications' });
  await toast.getByText('Bed levelled').waitFor({ timeout: 15_000 });
  await screenshot(p, 'host-prompt-notification');

  // Upload and start through the same API the screens use; the History screen is open meanwhile.
  await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'History' }).click();
  const started = await p.evaluate(async (name) => {
    // no named functions in here: the test runner's transform would wrap them in a helper the page lacks
    const lines = Array.from({ length: 300 }, (_, i) => `G1 X${i % 100} Y${i % 7} E0.04`);
    const text = ['M83', 'G28', ...lines.slice(0, 150), 'M600', ...lines.slice(150)].join('\n');
    const form = new FormData();
    form.append('file', new File([text], name));
    const up = await fetch('/api/files', { method: 'POST', body: form });
    if (up.status !== 201) return `upload ${up.status} ${await up.text()}`;
    const job = await fetch('/api/printers/virtual-1/job', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ file: name }) });
    return job.status === 202 ? 'ok' : `start ${job.status} ${await job.text()}`;
  }, FILE);
  assert.equal(started, 'ok');

  const dialog = p.getByRole('dialog', { name: /PrintBox Virtual 1 asks/ });
  await dialog.getByText('Nozzle Parked', { exact: true }).waitFor({ timeout: 60_000 });
  assert.deepEqual(await dialog.getByRole('button').allInnerTexts(), ['Continue']);
  await screenshot(p, 'host-prompt-nozzle-parked');
  await dialog.getByRole('button', { name: 'Continue' }).click();
  await answered('M876 S0');

  await dialog.getByText('Paused', { exact: true }).waitFor({ timeout: 30_000 });
  assert.deepEqual(await dialog.getByRole('button').allInnerTexts(), ['PurgeMore', 'Continue']);
  await screenshot(p, 'host-prompt-purge-or-continue');
  await dialog.getByRole('button', { name: 'Continue' }).click();
  await answered('M876 S1');
  await dialog.waitFor({ state: 'hidden', timeout: 30_000 });

  // The firmware resumed (//action:resumed) and the print runs to the end, with the answers in its history.
  const row = p.getByRole('table', { name: 'Print history' }).getByRole('row', { name: new RegExp(FILE.replace('.', '\\.')) });
  await row.waitFor({ timeout: 60_000 });
  assert.match((await row.innerText()).replace(/\s+/g, ' '), /Completed/);
  const events = await p.evaluate(async () => ((await (await fetch('/api/jobs?limit=1')).json()) as Array<{ events?: Array<{ kind: string; text: string; user?: string | null }> }>)[0]?.events ?? []);
  const answers = events.filter((e) => e.kind === 'answer');
  assert.deepEqual(answers.map((e) => e.text), ['Continue', 'Continue']);
  assert.ok(answers.every((e) => e.user === stack.user.name), 'who answered is recorded');
  assert.ok(events.some((e) => e.kind === 'prompt' && e.text === 'Nozzle Parked'));
  // … and on the History screen, under the file.
  await row.getByText(/Printer messages \(\d+\)/).click();
  await row.getByText('Asked: Nozzle Parked').waitFor();
  assert.match(await row.innerText(), new RegExp(`Answered: Continue by ${stack.user.name}`));
  await screenshot(p, 'host-prompt-completed');
  assert.deepEqual(pageErrors, []);
});
