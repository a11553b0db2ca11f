/**
 * Browser-test support: Debian's chromium driven by playwright-core with the machine's
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
  /** Run the browser inside this network namespace (a remote test host, see testHost()). */
  netns?: string;
  /** Every plain-HTTP request through this proxy (host:port), whatever its host. */
  httpProxy?: string;
}

/** Starts chromium with a throw-away --user-data-dir; close() removes it. */
export async function launch(opts: LaunchOptions = {}): Promise<LaunchedBrowser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: run scripts/setup.sh test`);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'printbox-chromium-'));
  // playwright drives chromium over a pipe, so a wrapper that enters the namespace keeps control working.
  let executablePath = CHROMIUM;
  if (opts.netns) {
    executablePath = path.join(profile, 'chromium-in-netns');
    fs.writeFileSync(executablePath, `#!/bin/sh\nexec ip netns exec ${opts.netns} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
  }
  // launchPersistentContext is how playwright passes a user data dir; the flags are the machine doc's.
  const context = await chromium.launchPersistentContext(path.join(profile, 'data'), {
    executablePath,
    headless: true,
    ignoreHTTPSErrors: true, // the device's self-signed certificate
    viewport: opts.phone ? { width: 390, height: 844 } : { width: 1280, height: 900 },
    deviceScaleFactor: 1,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', ...(opts.httpProxy ? [`--proxy-server=http=${opts.httpProxy}`] : [])],
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
 * A remote client for the browser: a network namespace of the test's own, joined to this machine by
 * a veth pair (TEST-NET-2 addresses, never routed anywhere). Requests from it arrive from
 * 198.51.100.2, so they are not "local" and the sign-in shows — a real remote browser, without
 * sending a packet off this machine. Root only; release() deletes the namespace and the pair.
 */
export interface TestHost { netns: string; serverAddress: string; release(): void }

export function testHost(): TestHost {
  const netns = `pbtest${process.pid}`;
  const hostIf = `pbh${process.pid % 100000}`;
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const release = () => {
    try { ip('netns', 'del', netns); } catch { /* gone */ }
    try { ip('link', 'del', hostIf); } catch { /* went with the namespace */ }
  };
  release();
  removeOrphans(ip);
  ip('netns', 'add', netns);
  try {
    // No IPv6 in the namespace: otherwise eth0's link-local address appears a moment after the link comes up
    // (duplicate address detection), chromium's network-change notifier sees it, and the first page load
    // fails with net::ERR_NETWORK_CHANGED.
    ip('netns', 'exec', netns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1');
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns);
    // Nor on this machine's end: its link-local address would appear a moment after the link comes up, in the
    // namespace where the tests that browse as the device itself (127.0.0.1) run chromium — the same failure.
    ip('link', 'set', hostIf, 'addrgenmode', 'none');
    ip('addr', 'add', '198.51.100.1/30', 'dev', hostIf);
    ip('link', 'set', hostIf, 'up');
    ip('netns', 'exec', netns, 'ip', 'addr', 'add', '198.51.100.2/30', 'dev', 'eth0');
    ip('netns', 'exec', netns, 'ip', 'link', 'set', 'eth0', 'up');
    ip('netns', 'exec', netns, 'ip', 'link', 'set', 'lo', 'up');
    // The kernel reports a veth's carrier (operstate "up") through its link-watch work, up to a second after
    // `ip link set up` and later on a busy machine. A chromium started before that sees the link change
    // under it and fails its first page load with net::ERR_NETWORK_CHANGED: start it on a settled link.
    waitOperUp(() => execFileSync('ip', ['-n', netns, '-o', 'link', 'show', 'eth0'], { encoding: 'utf8' }), `eth0 in ${netns}`);
    waitOperUp(() => execFileSync('ip', ['-o', 'link', 'show', hostIf], { encoding: 'utf8' }), hostIf);
  } catch (e) { release(); throw e; }
  return { netns, serverAddress: '198.51.100.1', release };
}

function waitOperUp(show: () => string, what: string): void {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let waited = 0; waited < 10_000; waited += 50) {
    if (/\bstate UP\b/.test(show())) return;
    Atomics.wait(pause, 0, 0, 50);
  }
  throw new Error(`${what}: link not up after 10 s`);
}

/**
 * Every test host uses the same addresses, so a namespace left by a run that was killed before release()
 * (its veth still holding 198.51.100.1) would break every later browser test on this machine. The pid in
 * the name says whose it is; a namespace whose process is gone is deleted, its veth pair with it.
 */
function removeOrphans(ip: (...args: string[]) => Buffer): void {
  const names = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).match(/^pbtest\d+/gm) ?? [];
  for (const name of names) {
    const pid = Number(name.slice('pbtest'.length));
    if (pid === process.pid || alive(pid)) continue;
    try { ip('netns', 'del', name); } catch { /* removed by someone else meanwhile */ }
  }
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** Collects uncaught page errors and console errors so a test can assert the UI ran cleanly. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  return errors;
}
