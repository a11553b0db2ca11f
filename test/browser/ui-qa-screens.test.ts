/**
 * User QA at phone width (390 px), on the device itself (local session), no cloud configured: every
 * screen renders without horizontal scrolling or page errors, and the cloud screen explains that there
 * is nothing to link to instead of offering a form that can only fail with "PRINTBOX_CLOUD_URL".
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request } from '../helpers/web.ts';
import { launch, screenshot, type LaunchedBrowser } from './support.ts';
import { startUiStack, type UiStack } from './stack.ts';

let stack: UiStack;
let b: LaunchedBrowser;
const pageErrors: string[] = [];

before(async () => {
  stack = await startUiStack({ printer: true });
  b = await launch({ phone: true });
  b.page.on('pageerror', (e) => pageErrors.push(e.message));
});

after(async () => {
  await b?.close();
  await stack?.stop();
});

const local = () => `https://127.0.0.1:${stack.web.httpsPort}`;

test('every screen fits 390 px without sideways scrolling', { timeout: 60_000 }, async () => {
  const p = b.page;
  for (const [route, heading] of [['/printers', 'Printers'], ['/printers/virtual-1', 'PrintBox Virtual 1'], ['/files', 'Files'], ['/history', 'History'], ['/cloud', 'Cloud'], ['/settings', 'Settings'], ['/system', 'System']] as const) {
    await p.goto(`${local()}/#${route}`);
    await p.getByRole('heading', { level: 1, name: heading }).waitFor();
    await p.waitForLoadState('networkidle').catch(() => undefined); // the event stream never idles; best effort
    await p.waitForTimeout(300);
    const width = await p.evaluate(() => document.documentElement.scrollWidth);
    await screenshot(p, `ui-qa-screens${route.replace(/\//g, '-')}`);
    assert.ok(width <= 390, `${route} is ${width} px wide at a 390 px viewport`);
  }
  assert.deepEqual(pageErrors, []);
});

test('without a cloud URL the cloud screen explains offline use and offers no link form', async () => {
  const status = await request(stack.web, { path: '/api/cloud', localAddress: '127.0.0.1' });
  assert.equal(status.json.cloud_configured, false);
  const p = b.page;
  await p.goto(`${local()}/#/cloud`);
  await p.getByTestId('cloud-not-configured').waitFor();
  assert.match((await p.getByTestId('cloud-not-configured').textContent())!.replace(/\s+/g, ' '), /No cloud service is set up on this PrintBox.*cloud_url.*printbox\.txt/);
  assert.equal(await p.getByRole('button', { name: 'Link to cloud' }).count(), 0);
  assert.equal(await p.getByLabel('Cloud account email').count(), 0);
});

test('the terminal example command gets a visible answer', async () => {
  const p = b.page;
  await p.goto(`${local()}/#/printers/virtual-1`);
  const input = p.getByRole('textbox', { name: 'G-code command' });
  // The placeholder is what a first-time user types; its answer must show (M105's "ok T:…" is not echoed).
  const example = /e\.g\. (\S+)/.exec((await input.getAttribute('placeholder')) ?? '')![1]!;
  await input.fill(example);
  await p.getByRole('button', { name: 'Send', exact: true }).click();
  await p.getByLabel('Printer communication log').getByText(/^< X:/).first().waitFor();
});
