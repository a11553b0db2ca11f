/**
 * In a real browser: an OctoPrint client without a key (Home Assistant's setup, Cura's "Request…")
 * asks for one; whoever may manage API keys sees the question on the screen they are on, with the app,
 * the printer and where the request came from, and allows or denies it. The waiting client then gets
 * a key that works on that printer's OctoPrint address (or 404 when denied). The printer page shows
 * the address to paste into such clients. Real services: web, printer service with a virtual printer.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request } from '../helpers/web.ts';
import { launch, screenshot, type LaunchedBrowser } from './support.ts';
import { startUiStack, type UiStack } from './stack.ts';

let stack: UiStack;
let b: LaunchedBrowser;
// Uncaught errors only: the UI's own expected 404s (no job yet) are logged by the browser as console errors.
const pageErrors: string[] = [];
const local = () => `https://127.0.0.1:${stack.web.httpsPort}`;
const PRINTER = 'virtual-1';

before(async () => {
  stack = await startUiStack({ printer: true });
  b = await launch();
  b.page.on('pageerror', (e) => pageErrors.push(e.message));
});

after(async () => {
  await b?.close();
  await stack?.stop();
});

/** What Home Assistant's config flow sends (pyoctoprintapi request_app_key), from another machine (127.0.0.2). */
async function askForKey(app: string): Promise<string> {
  const r = await request(stack.web, { method: 'POST', path: `/octoprint/${PRINTER}/plugin/appkeys/request`, body: { app, user: 'homeassistant' } });
  assert.equal(r.status, 201, r.text);
  return String(r.json.app_token);
}

const poll = (token: string) => request(stack.web, { path: `/octoprint/${PRINTER}/plugin/appkeys/request/${token}` });

test('an app asking for a key is shown on screen; Allow hands it a key that works on that printer', async () => {
  const p = b.page;
  await p.goto(local() + '/#/files');
  const token = await askForKey('Home Assistant');
  assert.equal((await poll(token)).status, 202, 'undecided: the client keeps waiting');
  const question = p.getByRole('region', { name: 'Apps asking for access' }).getByRole('alert').filter({ hasText: 'Home Assistant' });
  await question.waitFor({ timeout: 10_000 });
  assert.match(await question.innerText(), /Home Assistant \(as homeassistant\) asks for an API key to printer\s+virtual-1, from 127\.0\.0\.2/);
  await screenshot(p, 'octoprint-appkey-question');
  await question.getByRole('button', { name: 'Allow' }).click();
  await question.waitFor({ state: 'detached' });
  const got = await poll(token);
  assert.equal(got.status, 200, got.text);
  const key = String(got.json.api_key);
  const printer = await request(stack.web, { path: `/octoprint/${PRINTER}/api/printer`, headers: { 'X-Api-Key': key } });
  assert.equal(printer.status, 200, printer.text);
  assert.equal((await poll(token)).status, 404, 'the key is handed out once');
});

test('Deny: the waiting app is told no and gets no key', async () => {
  const p = b.page;
  const token = await askForKey('Cura');
  const question = p.getByRole('region', { name: 'Apps asking for access' }).getByRole('alert').filter({ hasText: 'Cura' });
  await question.waitFor({ timeout: 10_000 });
  await question.getByRole('button', { name: 'Deny' }).click();
  await question.waitFor({ state: 'detached' });
  assert.equal((await poll(token)).status, 404);
});

test('the printer page shows the address to paste into OctoPrint clients', async () => {
  const p = b.page;
  await p.goto(local() + `/#/printers/${PRINTER}`);
  const url = p.getByTestId('octoprint-url');
  await url.waitFor();
  assert.equal(await url.innerText(), `${local()}/octoprint/${PRINTER}`);
  assert.deepEqual(pageErrors, []);
});
