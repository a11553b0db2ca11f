/**
 * End to end in a real browser: a PAM admin signs in, links the box to the reference cloud,
 * sees the virtual printer live, uploads a G-code file by drag and drop with a progress bar, watches
 * temperatures change, starts, pauses, resumes and cancels a print, uses the terminal and the
 * emergency stop, and signs out. Real services: PAM helper, web (HTTPS), printer service with a
 * pty-backed virtual Marlin, reference cloud. Screenshots: test-artifacts/screenshots/.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, screenshot, type LaunchedBrowser } from './support.ts';
import { startUiStack, type UiStack } from './stack.ts';

const OWNER = { email: 'owner@example.test', password: 'cloud-pass-123' };
const FILE = 'browser-test.gcode';
const LINES = 60_000; // ~1.7 MB: long enough to upload visibly under throttling and to still be printing when we pause

let stack: UiStack;
let b: LaunchedBrowser;
const pageErrors: string[] = [];

before(async () => {
  // printbox group → admin here, so linking and every settings panel are allowed.
  stack = await startUiStack({ cloud: true, printer: true, env: { PRINTBOX_ROLE_MAP: 'printbox:admin' } });
  stack.cloud!.addAccount(OWNER.email, OWNER.password);
  b = await launch({ netns: stack.netns });
  b.page.on('pageerror', (e) => pageErrors.push(e.message));
});

after(async () => {
  await b?.close();
  await stack?.stop();
});

const printerLink = () => b.page.getByRole('link', { name: /PrintBox Virtual/ });
const jobBadge = () => b.page.getByRole('region', { name: 'Print job' }).locator('.job .badge');

test('the admin signs in with the PAM account', async () => {
  await b.page.goto(stack.base + '/');
  await b.page.getByLabel('Username or cloud email').fill(stack.user.name);
  await b.page.getByLabel('Password', { exact: true }).fill(stack.user.password);
  await b.page.getByRole('button', { name: 'Sign in' }).click();
  const loginAlert = b.page.locator('form').getByRole('alert');
  await b.page.getByRole('navigation', { name: 'Main' }).or(loginAlert).first().waitFor({ timeout: 60_000 });
  if (await loginAlert.count()) assert.fail(`sign-in failed: ${await loginAlert.innerText()}`);
});

test('offline mode, then link the box to the reference cloud with email and password', async () => {
  await b.page.getByRole('link', { name: 'Cloud' }).click();
  await b.page.getByTestId('cloud-state').getByText('Not linked').waitFor();
  await screenshot(b.page, 'cloud-unlinked');
  await b.page.getByRole('button', { name: 'Use offline' }).click();
  await b.page.getByTestId('cloud-state').getByText('Offline mode').waitFor();
  assert.equal((await b.page.evaluate(async () => (await fetch('/api/cloud')).json())).state, 'offline');
  await screenshot(b.page, 'cloud-offline');
  await b.page.getByLabel('Cloud account email').fill(OWNER.email);
  await b.page.getByLabel('Cloud account password').fill('wrong-password');
  await b.page.getByRole('button', { name: 'Link to cloud' }).click();
  await b.page.getByRole('alert').waitFor();
  assert.match(await b.page.getByRole('alert').innerText(), /refused|password/i);
  assert.ok(await b.page.getByRole('navigation', { name: 'Main' }).isVisible(), 'a wrong cloud password does not sign us out');
  await b.page.getByLabel('Cloud account password').fill(OWNER.password);
  await b.page.getByRole('button', { name: 'Link to cloud' }).click();
  await b.page.getByTestId('cloud-state').getByText(OWNER.email).waitFor();
  const status = await b.page.evaluate(async () => (await fetch('/api/cloud')).json());
  assert.equal(status.state, 'linked');
  assert.equal(status.owner.email, OWNER.email);
  await screenshot(b.page, 'cloud-linked');
});

test('the virtual printer shows up live in the printers list', async () => {
  await b.page.getByRole('link', { name: 'Printers' }).click();
  await printerLink().waitFor({ timeout: 30_000 });
  await b.page.locator('.printer-card .badge', { hasText: 'Ready' }).waitFor({ timeout: 30_000 });
  await b.page.waitForFunction(() => document.querySelector('.banner') === null, undefined, { timeout: 10_000 })
    .catch(() => assert.fail('live updates (GET /api/events) did not connect'));
  await screenshot(b.page, 'printers');
});

test('drag and drop upload shows progress and lists the file', async () => {
  await b.page.getByRole('link', { name: 'Files' }).click();
  await b.page.getByRole('region', { name: 'Upload G-code' }).waitFor();
  // Slow the upload down (DevTools network throttling) so the progress bar has something to show.
  const cdp = await b.context.newCDPSession(b.page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 600_000 });
  await b.page.evaluate(() => {
    const seen: number[] = [];
    (window as unknown as { __progress: number[] }).__progress = seen;
    new MutationObserver(() => {
      const m = /Uploading .*?(\d+) %/.exec(document.querySelector('.upload')?.textContent ?? '');
      if (m) seen.push(Number(m[1]));
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  await b.page.evaluate(({ name, lines }) => {
    const text = Array.from({ length: lines }, (_, i) => `G1 X${(i % 200) + 0.5} Y${Math.floor(i / 200) % 200} E${(i * 0.0123).toFixed(4)}\n`).join('');
    const dt = new DataTransfer();
    dt.items.add(new File([text], name, { type: 'text/plain' }));
    const zone = document.querySelector('.dropzone')!;
    zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, { name: FILE, lines: LINES });
  await b.page.getByRole('progressbar', { name: 'Upload progress' }).waitFor();
  await b.page.waitForFunction(() => ((window as unknown as { __progress: number[] }).__progress.some((p) => p >= 30 && p < 100)));
  await screenshot(b.page, 'files-uploading');
  await b.page.getByText(`Uploaded ${FILE} (${LINES.toLocaleString('en-US')} lines).`).waitFor({ timeout: 30_000 });
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await cdp.detach();
  const seen = await b.page.evaluate(() => (window as unknown as { __progress: number[] }).__progress);
  assert.ok(seen.filter((p) => p > 0 && p < 100).length >= 2, `intermediate progress values seen: ${seen.join(',')}`);
  const row = b.page.getByRole('row', { name: new RegExp(FILE) });
  await row.waitFor();
  assert.match(await row.innerText(), /1\.\d MB/);
  await screenshot(b.page, 'files');
});

test('temperatures change on the live plot after preheating', async () => {
  await b.page.getByRole('link', { name: 'Printers' }).click();
  await printerLink().click();
  const hotend = b.page.getByTestId('temp-T0');
  await hotend.waitFor();
  const before = parseFloat(await hotend.innerText());
  await b.page.getByRole('button', { name: 'Preheat PLA' }).click();
  await b.page.waitForFunction((start) => {
    const v = parseFloat(document.querySelector('[data-testid="temp-T0"]')?.textContent ?? '');
    return v > start + 50;
  }, before, { timeout: 20_000 });
  const points = await b.page.locator('polyline[data-sensor="T0"]').getAttribute('points');
  assert.ok((points ?? '').trim().split(' ').length >= 3, 'the plot has a history of points');
  await screenshot(b.page, 'printer-heating');
});

test('start, pause, resume and cancel a print', async () => {
  await b.page.getByRole('combobox', { name: 'File to print' }).selectOption(FILE);
  await b.page.getByRole('button', { name: 'Start print' }).click();
  await jobBadge().getByText('Printing').waitFor();
  await b.page.waitForFunction(() => parseFloat(document.querySelector('[data-testid="job-progress"]')?.textContent ?? '0') > 0, undefined, { timeout: 20_000 });
  // The ETA needs a measured rate (≥ 0.1 % printed), which may come a moment after the first progress.
  await b.page.waitForFunction(() => { const t = document.querySelector('[data-testid="job-eta"]')?.textContent?.trim(); return Boolean(t) && t !== '—'; }, undefined, { timeout: 20_000 })
    .catch(() => undefined);
  assert.notEqual(await b.page.getByTestId('job-eta').innerText(), '—', 'an ETA is shown while printing');
  await screenshot(b.page, 'printer-printing');

  // The pause request answers once the lines already in the firmware's buffer have run and the head is parked;
  // until then progress still moves (those lines really execute), so compare from that point on.
  const pauseDone = b.page.waitForResponse((r) => r.url().endsWith('/job/pause') && r.request().method() === 'POST', { timeout: 60_000 });
  await b.page.getByRole('button', { name: 'Pause' }).click();
  assert.equal((await pauseDone).status(), 200);
  await jobBadge().getByText('Paused').waitFor();
  const paused = await b.page.getByTestId('job-progress').innerText();
  await b.page.waitForTimeout(1000);
  assert.equal(await b.page.getByTestId('job-progress').innerText(), paused, 'progress holds while paused');
  assert.match(await b.page.getByTestId('job-reason').innerText(), /Paused by a user/);
  await screenshot(b.page, 'printer-paused');

  await b.page.getByRole('button', { name: 'Resume' }).click();
  await jobBadge().getByText('Printing').waitFor();
  await b.page.waitForFunction((p) => document.querySelector('[data-testid="job-progress"]')?.textContent !== p, paused, { timeout: 20_000 });

  await b.page.getByRole('button', { name: 'Cancel print' }).click();
  const dialog = b.page.getByRole('dialog', { name: 'Cancel this print?' });
  await dialog.waitFor();
  await screenshot(b.page, 'printer-cancel-confirm');
  await dialog.getByRole('button', { name: 'Go back' }).click();
  await jobBadge().getByText('Printing').waitFor();
  await b.page.getByRole('button', { name: 'Cancel print' }).click();
  await dialog.getByRole('button', { name: 'Cancel print' }).click();
  await jobBadge().getByText('Cancelled').waitFor();
  const job = await b.page.evaluate(async () => (await fetch(`/api/printers/${location.hash.split('/').pop()}/job`)).json());
  assert.equal(job.state, 'cancelled');
  assert.equal(job.file, 'browser-test.gcode');
  await b.page.getByRole('list', { name: 'Recent prints' }).getByText('Cancelled').waitFor();
  await screenshot(b.page, 'printer-cancelled');
});

test('the terminal sends a command and shows the answer', async () => {
  await b.page.getByRole('textbox', { name: 'G-code command' }).fill('M115');
  await b.page.getByRole('button', { name: 'Send', exact: true }).click();
  const log = b.page.getByLabel('Printer communication log');
  await log.getByText(/FIRMWARE_NAME:Marlin/).first().waitFor();
  const text = await log.innerText();
  assert.match(text, /^> M115$/m, 'the sent command is echoed');
  assert.match(text, /^> M104 S200$/m, 'the first line of the session (preheat) was not lost');
  // M105's whole answer is its `ok T:…` line: the ok of a terminal command is shown, job/poll oks are not.
  await b.page.getByRole('textbox', { name: 'G-code command' }).fill('M105');
  await b.page.getByRole('button', { name: 'Send', exact: true }).click();
  await log.getByText(/^< ok\b.*T:/).first().waitFor();
  await screenshot(b.page, 'printer-terminal');
});

test('unlink is refused while printing, then works; re-link with a link code', async () => {
  const p = b.page;
  const id = decodeURIComponent(p.url().split('/').pop()!);
  const started = await p.evaluate(async ([pid, file]) => (await fetch(`/api/printers/${pid}/job`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ file }),
  })).status, [id, FILE]);
  assert.equal(started, 202);
  await p.getByRole('link', { name: 'Cloud' }).click();
  await p.getByRole('button', { name: 'Unlink' }).click();
  await p.getByRole('dialog', { name: 'Unlink from the cloud?' }).getByRole('button', { name: 'Unlink' }).click();
  const alert = p.getByRole('region', { name: 'Cloud link' }).getByRole('alert');
  await alert.waitFor();
  assert.match(await alert.innerText(), /print/i, 'the refusal says a print is running');
  await p.getByTestId('cloud-state').getByText(OWNER.email).waitFor();
  await screenshot(p, 'cloud-unlink-refused');
  await p.evaluate(async (pid) => { await fetch(`/api/printers/${pid}/job/cancel`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' }); }, id);

  await p.getByRole('button', { name: 'Unlink' }).click();
  await p.getByRole('dialog', { name: 'Unlink from the cloud?' }).getByRole('button', { name: 'Unlink' }).click();
  await p.getByTestId('cloud-state').getByText('Not linked').waitFor();

  const second = stack.cloud!.store.addAccount('second@example.test', 'another-pass-456');
  const token = stack.cloud!.store.createLinkToken(second.id);
  await p.getByRole('tab', { name: 'Link code' }).click();
  await p.getByLabel('Link code (from the cloud website)').fill(token);
  await p.getByRole('button', { name: 'Link to cloud' }).click();
  await p.getByTestId('cloud-state').getByText('second@example.test').waitFor();
  await screenshot(p, 'cloud-linked-with-code');
  await p.goBack();
  await p.getByRole('heading', { name: 'Temperatures' }).waitFor();
});

test('emergency stop asks first, then halts the printer', async () => {
  await b.page.getByRole('button', { name: 'Emergency stop' }).click();
  const dialog = b.page.getByRole('dialog', { name: 'Emergency stop?' });
  await dialog.waitFor();
  await dialog.getByRole('button', { name: 'Stop now' }).click();
  await b.page.getByRole('status').getByText('Emergency stop sent.').waitFor();
  await screenshot(b.page, 'printer-emergency-stop');
});

test('the halted printer offers "Reset printer", which brings it back to ready', async () => {
  const reset = b.page.getByRole('button', { name: 'Reset printer' });
  await reset.waitFor({ timeout: 10_000 });
  await screenshot(b.page, 'printer-halted');
  await reset.click();
  await b.page.getByRole('status').getByText('Printer reset. It is ready again.').waitFor({ timeout: 30_000 });
  await reset.waitFor({ state: 'detached' });
  const printers = await b.page.evaluate(async () => (await fetch('/api/printers')).json());
  assert.equal(printers[0].state, 'idle');
});

test('the printer page fits a phone', async () => {
  await b.page.setViewportSize({ width: 390, height: 844 });
  await b.page.reload();
  await b.page.getByRole('heading', { name: 'Temperatures' }).waitFor();
  const overflow = await b.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling on a phone (overflow ${overflow}px)`);
  await screenshot(b.page, 'printer-phone');
  await b.page.setViewportSize({ width: 1280, height: 900 });
});

test('settings and sign out', async () => {
  await b.page.getByRole('link', { name: 'Settings' }).click();
  await b.page.getByRole('region', { name: 'API keys' }).waitFor();
  await b.page.getByText('never interrupts a running print').waitFor(); // linked (to the second account) at this point
  // API keys: created, shown once, usable as a Bearer token, revoked.
  const keys = b.page.getByRole('region', { name: 'API keys' });
  await keys.getByLabel('Key name').fill('ci-script');
  await keys.getByRole('button', { name: 'Create key' }).click();
  const key = await keys.locator('code.mono').innerText();
  assert.match(key, /^pbk_[0-9a-f]{8}_/);
  const withKey = (k: string) => b.page.evaluate(async (bearer) => {
    const r = await fetch('/api/auth/session', { credentials: 'omit', headers: { Authorization: `Bearer ${bearer}` } });
    return r.ok ? ((await r.json()) as { method: string }).method : r.status;
  }, k);
  assert.equal(await withKey(key), 'apikey');
  await b.page.getByRole('region', { name: 'Users and roles' }).getByRole('combobox', { name: `Role of ${stack.user.name}` }).waitFor();
  // The audit log shows the cloud link made earlier in this test.
  await b.page.getByRole('list', { name: 'Recent audit entries' }).getByText(/link/).first().waitFor();
  await screenshot(b.page, 'settings-admin');
  await keys.getByRole('button', { name: 'Revoke key ci-script' }).click();
  await keys.getByText('No API keys.').waitFor();
  assert.equal(await withKey(key), 401);
  await b.page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await b.page.getByRole('heading', { name: 'Sign in to PrintBox' }).waitFor();
  assert.equal(await b.page.evaluate(async () => (await fetch('/api/auth/session')).status), 401);
});

test('the linked cloud owner signs in with the cloud email and password', async () => {
  const p = b.page;
  await p.getByLabel('Username or cloud email').fill('owner@example.test'); // no longer the linked owner
  await p.getByLabel('Password', { exact: true }).fill(OWNER.password);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.locator('form').getByRole('alert').getByText('Wrong username or password').waitFor();
  await p.getByLabel('Username or cloud email').fill('second@example.test');
  await p.getByLabel('Password', { exact: true }).fill('another-pass-456');
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByRole('navigation', { name: 'Main' }).waitFor();
  const session = await p.evaluate(async () => (await fetch('/api/auth/session')).json());
  assert.equal(session.method, 'cloud');
  assert.equal(session.role, 'admin');
  await p.getByRole('button', { name: 'Sign out', exact: true }).click();
  await p.getByRole('heading', { name: 'Sign in to PrintBox' }).waitFor();
});

test('no uncaught errors in the page', () => {
  assert.deepEqual(pageErrors, []);
});
