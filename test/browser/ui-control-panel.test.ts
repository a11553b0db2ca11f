/**
 * The control panel in a real browser: a signed-in PAM operator homes, jogs with a chosen step, sees
 * extrusion refused while the hotend is cold (with the reason), heats with a preset, extrudes, sees an
 * out-of-range length refused with the server's message, runs a macro, and during a print finds moves
 * disabled while babystep works. What reached the printer is read from the panel's terminal log.
 * Screenshots: test-artifacts/screenshots/control-panel-*.png.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { request } from '../helpers/web.ts';
import { launch, screenshot, type LaunchedBrowser } from './support.ts';
import { startUiStack, type UiStack } from './stack.ts';

let stack: UiStack;
let b: LaunchedBrowser;
const pageErrors: string[] = [];

before(async () => {
  stack = await startUiStack({ printer: true });
  b = await launch({ netns: stack.netns });
  b.page.on('pageerror', (e) => pageErrors.push(e.message));
  // Macros are made by an admin (settings.manage): here the device itself, a local request.
  const r = await request(stack.web, { method: 'POST', path: '/api/macros', body: { name: 'Say hello', gcode: 'M117 Hello' }, localAddress: '127.0.0.1' });
  assert.equal(r.status, 201, r.text);
});

after(async () => {
  await b?.close();
  await stack?.stop();
});

/** The terminal shows every line sent ("> G28"): wait for `lines` to appear in order after what was there. */
async function sent(p: Page, lines: string[]): Promise<void> {
  const log = p.getByRole('region', { name: 'Terminal' }).getByLabel('Printer communication log');
  await p.waitForFunction(({ want }) => {
    const text = document.querySelector('[aria-label="Printer communication log"]')?.textContent ?? '';
    const got = text.split('\n').filter((l) => l.startsWith('> ')).map((l) => l.slice(2));
    let i = 0;
    for (const l of got) if (l === want[i]) i++;
    return i === want.length;
  }, { want: lines }, { timeout: 20_000 }).catch(async (e) => { throw new Error(`${lines.join(' | ')} not sent: ${await log.textContent()}\n${e}`); });
}

test('home, jog, heat, extrude and a macro from the control panel; moves locked during a print', { timeout: 180_000 }, async () => {
  const p = b.page;
  await p.goto(stack.base + '/');
  await p.getByLabel('Username or cloud email').fill(stack.user.name);
  await p.getByLabel('Password', { exact: true }).fill(stack.user.password);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByRole('navigation', { name: 'Main' }).waitFor({ timeout: 60_000 });
  await p.goto(stack.base + '/#/printers/virtual-1');
  const panel = p.getByRole('region', { name: 'Control' });
  await panel.waitFor({ timeout: 30_000 });
  await panel.getByRole('button', { name: 'Home all' }).waitFor();
  await p.waitForFunction(() => !(document.querySelector('button[aria-label^="X +"]') as HTMLButtonElement | null)?.disabled, undefined, { timeout: 30_000 });

  await panel.getByRole('button', { name: 'Home all' }).click();
  await sent(p, ['G28']);
  await panel.getByRole('radio', { name: '1', exact: true }).check();
  await panel.getByRole('button', { name: 'X +1 mm' }).click();
  await sent(p, ['G91', 'G1 X1 F6000', 'G90']);
  await panel.getByRole('button', { name: 'Z −1 mm' }).click();
  await sent(p, ['G91', 'G1 Z-1 F200', 'G90']);

  // Cold: extrusion disabled with the reason.
  assert.ok(await panel.getByRole('button', { name: 'Extrude' }).isDisabled());
  assert.match(await panel.getByTestId('extrude-reason').innerText(), /extruding needs at least 170 °C/);
  await screenshot(p, 'control-panel-idle');

  await panel.getByRole('button', { name: /^PLA 200\/60/ }).click();
  await sent(p, ['M104 S200', 'M140 S60']);
  await p.waitForFunction(() => !(document.evaluate("//button[text()='Extrude']", document, null, 9).singleNodeValue as HTMLButtonElement | null)?.disabled, undefined, { timeout: 30_000 });
  await panel.getByRole('button', { name: 'Extrude' }).click();
  await sent(p, ['M83', 'G1 E5 F300', 'M82']);

  await panel.getByLabel('Length (mm)').fill('150');
  await panel.getByRole('button', { name: 'Retract' }).click();
  await panel.getByRole('alert').filter({ hasText: 'amount must be from -100 to 100 mm' }).waitFor();
  await panel.getByRole('button', { name: 'Say hello' }).click();
  await sent(p, ['M117 Hello']);
  await screenshot(p, 'control-panel-heated');

  // A print: moves and motors off are locked with the reason, babystep and the overrides appear.
  const started = await p.evaluate(async () => {
    const text = ['G28', ...Array.from({ length: 4000 }, (_, i) => `G1 X${i % 100} Y${i % 7} E0.01`)].join('\n');
    const form = new FormData();
    form.append('file', new File([text], 'control-long.gcode'));
    const up = await fetch('/api/files', { method: 'POST', body: form });
    if (up.status !== 201) return `upload ${up.status}`;
    const job = await fetch('/api/printers/virtual-1/job', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ file: 'control-long.gcode' }) });
    return job.status === 202 ? 'ok' : `start ${job.status} ${await job.text()}`;
  });
  assert.equal(started, 'ok');
  await panel.getByTestId('move-reason').filter({ hasText: 'disabled while a print is running' }).waitFor({ timeout: 20_000 });
  assert.ok(await panel.getByRole('button', { name: 'Home all' }).isDisabled());
  assert.ok(await panel.getByRole('button', { name: 'Motors off' }).isDisabled());
  await panel.getByRole('button', { name: 'Z +0.05' }).click();
  await sent(p, ['M290 Z0.05']);
  await panel.getByLabel('Feed rate (%)').fill('110');
  await panel.getByRole('button', { name: 'Set feed rate' }).click();
  await sent(p, ['M220 S110']);
  await screenshot(p, 'control-panel-printing');
  const cancelled = await p.evaluate(async () => (await fetch('/api/printers/virtual-1/job/cancel', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })).status);
  assert.equal(cancelled, 200);
  assert.deepEqual(pageErrors, []);
});
