/**
 * In a real browser: sign-in with a real PAM account over real HTTPS from a non-local
 * address, wrong password message, settings (certificate fingerprint, sessions), system screen,
 * sign out, and the lockout wait time from Retry-After. Screenshots go to test-artifacts/screenshots/.
 */
import assert from 'node:assert/strict';
import os from 'node:os';
import { after, before, test } from 'node:test';
import * as OTPAuth from 'otpauth';
import { launch, screenshot, type LaunchedBrowser } from './support.ts';
import { LinkStore } from '../../services/shared/link/store.ts';
import { startUiStack, type UiStack } from './stack.ts';

let stack: UiStack;
let b: LaunchedBrowser;
const pageErrors: string[] = [];

before(async () => {
  // A first-boot record as printbox-firstboot leaves it after a bad printbox.txt.
  stack = await startUiStack({
    seed: (dir) => new LinkStore(dir).saveFirstboot({ result: 'error', error: 'printbox.txt line 3: "bob@" is not a valid email', warnings: ['line 7: unknown key "wifi_pasword" ignored'] }),
  });
  b = await launch({ netns: stack.netns });
  b.page.on('pageerror', (e) => pageErrors.push(e.message));
});

after(async () => {
  await b?.close();
  await stack?.stop();
});

async function signIn(account: string, password: string) {
  const p = b.page;
  await p.getByLabel('Username or cloud email').fill(account);
  await p.getByLabel('Password', { exact: true }).fill(password);
  await p.getByRole('button', { name: 'Sign in' }).click();
}

test('the sign-in screen explains which accounts work', async () => {
  await b.page.goto(stack.base + '/');
  await b.page.getByRole('heading', { name: 'Sign in to PrintBox' }).waitFor();
  const text = await b.page.locator('form').innerText();
  assert.match(text, /your device's SSH account, or the cloud account this printer box is linked to/);
  await screenshot(b.page, 'login');
});

test('a wrong password shows a clear message and no session', async () => {
  await signIn(stack.user.name, 'definitely-not-the-password');
  const alert = b.page.getByRole('alert');
  await alert.waitFor();
  assert.match(await alert.innerText(), /Wrong username or password/);
  assert.equal(await b.page.getByLabel('Password', { exact: true }).inputValue(), '', 'password field cleared');
  await screenshot(b.page, 'login-wrong-password');
  const status = await b.page.evaluate(async () => (await fetch('/api/auth/session')).status);
  assert.equal(status, 401);
});

test('the PAM account signs in and sees the app', async () => {
  await signIn(stack.user.name, stack.user.password);
  await b.page.getByRole('navigation', { name: 'Main' }).waitFor();
  assert.equal(await b.page.locator('.who span').innerText(), stack.user.name);
  await b.page.getByRole('heading', { name: 'Printers' }).waitFor();
  const session = await b.page.evaluate(async () => (await fetch('/api/auth/session')).json());
  assert.equal(session.user, stack.user.name);
  assert.equal(session.method, 'pam', 'the browser is a remote client, not the local bypass');
  await screenshot(b.page, 'printers-no-printer-service');
});

test('settings show the device certificate fingerprint and this session', async () => {
  const session = await b.page.evaluate(async () => (await fetch('/api/auth/session')).json());
  await b.page.getByRole('link', { name: 'Settings' }).click();
  const fp = b.page.getByTestId('tls-fingerprint');
  await fp.waitFor();
  assert.equal(await fp.innerText(), stack.fingerprint);
  const pem = await b.page.evaluate(async () => (await fetch('/api/settings/tls/cert.pem')).text());
  assert.match(pem, /BEGIN CERTIFICATE/);
  const sessions = b.page.getByRole('region', { name: 'Sessions' });
  await sessions.getByText('this browser').waitFor();
  // The test account is in group printbox → operator (default PRINTBOX_ROLE_MAP): no admin panels, no cloud linking.
  assert.equal(session.role, 'operator');
  assert.equal(await b.page.getByRole('region', { name: 'API keys' }).count(), 0);
  assert.equal(await b.page.getByRole('button', { name: 'Link to cloud' }).count(), 0);
  await screenshot(b.page, 'settings');
});

test('the cloud screen shows the first-boot result and its errors', async () => {
  await b.page.getByRole('link', { name: 'Cloud' }).click();
  await b.page.getByTestId('firstboot-result').getByText('First-boot setup from printbox.txt failed.').waitFor();
  const section = await b.page.getByRole('region', { name: 'First boot' }).innerText();
  assert.match(section, /"bob@" is not a valid email/);
  assert.match(section, /unknown key "wifi_pasword" ignored/);
  await screenshot(b.page, 'cloud-firstboot-error');
});

test('index.html is never cached, hashed assets are immutable', async () => {
  const heads = await b.page.evaluate(async () => {
    const index = await fetch('/', { cache: 'no-store' });
    const js = document.querySelector<HTMLScriptElement>('script[type=module]')!.src;
    const asset = await fetch(js, { cache: 'no-store' });
    return { index: index.headers.get('cache-control'), asset: asset.headers.get('cache-control'), js };
  });
  assert.match(heads.js, /\/assets\/index-[\w-]+\.js$/);
  assert.match(heads.index ?? '', /no-store/);
  assert.match(heads.asset ?? '', /immutable/);
});

test('the system screen shows this machine and a service log', async () => {
  await b.page.getByRole('link', { name: 'System' }).click();
  await b.page.getByTestId('cpu-load').waitFor();
  const proc = await b.page.getByRole('region', { name: 'Processor' }).innerText();
  assert.match(proc, new RegExp(os.hostname()));
  assert.match(proc, new RegExp(`of ${os.cpus().length} cores`));
  await b.page.getByRole('combobox', { name: 'Service' }).selectOption('printbox-auth');
  await b.page.getByRole('button', { name: 'Show log' }).click();
  await b.page.getByLabel('Log of printbox-auth').waitFor();
  await screenshot(b.page, 'system');
});

test('two-factor: set up in settings, then sign-in asks for the code', async () => {
  const p = b.page;
  await p.getByRole('link', { name: 'Settings' }).click();
  const panel = p.getByRole('region', { name: 'Two-factor sign-in' });
  await panel.getByRole('button', { name: 'Set up two-factor sign-in' }).click();
  await panel.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor();
  const secret = await panel.getByTestId('totp-secret').innerText();
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 });
  // Confirm with the previous step's code so the current one is still unused for the sign-in below.
  await panel.getByLabel('Code from the app').fill(totp.generate({ timestamp: Date.now() - 30_000 }));
  await panel.getByRole('button', { name: 'Turn on' }).click();
  const codes = panel.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem');
  await codes.first().waitFor();
  assert.equal(await codes.count(), 10);
  await panel.getByTestId('totp-state').getByText(/^On/).waitFor();
  await screenshot(p, 'settings-two-factor');

  await p.getByRole('button', { name: 'Sign out', exact: true }).click();
  await signIn(stack.user.name, stack.user.password);
  await p.getByLabel('Two-factor code').waitFor();
  assert.match(await p.getByRole('alert').innerText(), /6-digit code/);
  await screenshot(p, 'login-two-factor');
  await p.getByLabel('Two-factor code').fill(totp.generate());
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByRole('navigation', { name: 'Main' }).waitFor();
});

test('sign out returns to the sign-in screen and ends the session', async () => {
  await b.page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await b.page.getByRole('heading', { name: 'Sign in to PrintBox' }).waitFor();
  const status = await b.page.evaluate(async () => (await fetch('/api/auth/session')).status);
  assert.equal(status, 401);
  await b.page.reload();
  await b.page.getByRole('heading', { name: 'Sign in to PrintBox' }).waitFor();
});

test('repeated wrong passwords lock the form and show the wait time from Retry-After', async () => {
  let retryAfter: string | null = null;
  b.page.on('response', (r) => { if (r.url().endsWith('/api/auth/login') && r.status() === 429) retryAfter = r.headers()['retry-after'] ?? null; });
  for (let i = 0; i < 15 && retryAfter === null; i++) {
    await b.page.getByRole('button', { name: 'Sign in' }).waitFor();
    await b.page.waitForFunction(() => !document.querySelector<HTMLButtonElement>('button[type=submit]')?.textContent?.includes('Signing'));
    await signIn(stack.user.name, `wrong-${i}`);
    await b.page.getByRole('alert').waitFor();
    await b.page.waitForFunction(() => !document.querySelector<HTMLButtonElement>('button[type=submit]')?.textContent?.includes('Signing'));
  }
  assert.ok(retryAfter, 'the server answered 429 within 15 attempts');
  const alert = await b.page.getByRole('alert').innerText();
  assert.match(alert, new RegExp(`wait ${retryAfter} ${retryAfter === '1' ? 'second' : 'seconds'} `));
  assert.match(alert, /try again in \d+ s/);
  assert.ok(await b.page.getByRole('button', { name: 'Sign in' }).isDisabled(), 'submit disabled while locked out');
  await screenshot(b.page, 'login-lockout');
});

test('the sign-in screen fits a phone', async () => {
  await b.page.setViewportSize({ width: 390, height: 844 });
  await b.page.reload();
  await b.page.getByRole('heading', { name: 'Sign in to PrintBox' }).waitFor();
  const overflow = await b.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling on a phone (overflow ${overflow}px)`);
  await screenshot(b.page, 'login-phone');
});

test('on the device itself (127.0.0.1) the UI needs no sign-in and offers no sign-out', async (t) => {
  // A browser on the machine itself, outside the test host's namespace.
  const local = await launch();
  t.after(() => local.close());
  await local.page.goto(`https://127.0.0.1:${stack.web.httpsPort}/#/settings`);
  await local.page.getByRole('navigation', { name: 'Main' }).waitFor();
  const session = await local.page.evaluate(async () => (await fetch('/api/auth/session')).json());
  assert.equal(session.method, 'local');
  assert.equal(await local.page.getByRole('button', { name: 'Sign out', exact: true }).count(), 0);
  await local.page.getByRole('region', { name: 'Security certificate (HTTPS)' }).waitFor();
  assert.equal(await local.page.getByRole('region', { name: 'Sessions' }).count(), 0, 'no account, so no sessions panel');
  await screenshot(local.page, 'settings-local');
});

test('no uncaught errors in the page', () => {
  assert.deepEqual(pageErrors, []);
});
