/**
 * Browser-test support (issue 6): Debian's chromium driven by playwright-core with the machine's
 * flags, a fresh profile per launch, and screenshots under test-artifacts/screenshots/.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SCREENSHOT_DIR = path.join(ROOT, 'test-artifacts/screenshots');
export const CHROMIUM = '/usr/bin/chromium';

export interface LaunchedBrowser {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

export interface LaunchOptions {
  /** Phone-sized viewport (the UI must work on a phone). */
  phone?: boolean;
}

/** Starts chromium with a throw-away --user-data-dir; close() removes it. */
export async function launch(opts: LaunchOptions = {}): Promise<LaunchedBrowser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: run scripts/setup.sh test`);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'printbox-chromium-'));
  // launchPersistentContext is how playwright passes a user data dir; the flags are the machine doc's.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    ignoreHTTPSErrors: true, // the device's self-signed certificate
    viewport: opts.phone ? { width: 390, height: 844 } : { width: 1280, height: 900 },
    deviceScaleFactor: 1,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(30_000); // the test machine is shared; be patient, not flaky
  return {
    browser: context.browser()!,
    context,
    page,
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * An IPv4 address of this machine other than 127.x: requests from it are not "local", so the sign-in
 * shows. Without a network interface, a TEST-NET-2 address is added to lo for the test (root only;
 * connections to it have it as their source, not 127.0.0.1); release() removes it again.
 */
export function externalAddress(): { address: string; release(): void } {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.address.startsWith('127.')) return { address: a.address, release: () => {} };
  }
  const address = '198.51.100.77';
  execFileSync('ip', ['addr', 'add', `${address}/32`, 'dev', 'lo']);
  return { address, release: () => { try { execFileSync('ip', ['addr', 'del', `${address}/32`, 'dev', 'lo']); } catch { /* already gone */ } } };
}

/** Collects uncaught page errors and console errors so a test can assert the UI ran cleanly. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  return errors;
}
