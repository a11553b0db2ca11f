/**
 * The real PrintBox processes a browser test drives: PAM helper + web (+ printer service and the
 * reference cloud when a test asks), reached from a test host in its own network namespace so the
 * browser is a remote client and must sign in (launch({ netns: stack.netns })). Built on test/helpers/web.ts; stop() ends everything started.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createUser, ensureGroup, type TestUser } from '../helpers/pam.ts';
import { startCloud, type TestCloud } from '../helpers/cloud.ts';
import { REPO, spawnService, startAuth, startWeb, tempDir, type AuthHelper, type Service, type WebServer } from '../helpers/web.ts';
import { testHost } from './support.ts';

export interface UiStack {
  base: string;
  /** The namespace the browser must run in to be a remote client. */
  netns: string;
  web: WebServer;
  auth: AuthHelper;
  user: TestUser;
  dataDir: string;
  runDir: string;
  /** SHA-256 fingerprint of the device certificate, as browsers show it. */
  fingerprint: string;
  /** The reference cloud, when asked for (the device is configured to use it). */
  cloud?: TestCloud;
  /** printbox-printer with one virtual printer, when asked for. */
  printer?: Service;
  /** printbox-update, when asked for. */
  updater?: Service;
  stop(): Promise<void>;
}

/** The UI build the web serves; built once if missing (npm test builds it before the suites). */
export function ensureWebBuild(): string {
  const dist = path.join(REPO, 'web/dist');
  if (!fs.existsSync(path.join(dist, 'index.html'))) {
    execFileSync('npx', ['vite', 'build', '--config', 'web/vite.config.ts', '--logLevel', 'error'], { cwd: REPO, stdio: 'inherit' });
  }
  return dist;
}

export interface StackOptions {
  env?: Record<string, string>;
  cloud?: boolean;
  printer?: boolean;
  /** Also start printbox-update with this environment (its engine stays `none`: nothing is installed). */
  updater?: Record<string, string>;
  /** Runs against the fresh data dir before the services start (e.g. a first-boot record). */
  seed?: (dataDir: string) => void;
}

export async function startUiStack(opts: StackOptions = {}): Promise<UiStack> {
  const staticDir = ensureWebBuild();
  const removeGroup = ensureGroup('printbox');
  const user = createUser({ groups: ['printbox'] });
  const dataDir = tempDir('ui-data');
  const runDir = tempDir('ui-run');
  const external = testHost();
  const host = external.serverAddress;
  const cleanups: (() => Promise<void> | void)[] = [() => user.remove(), removeGroup, () => external.release()];
  try {
    opts.seed?.(dataDir);
    const auth = await startAuth({ runDir });
    cleanups.unshift(() => auth.stop());
    // All addresses: the browser comes from `host` (remote) and, in one test, from 127.0.0.1 (the device itself).
    const env: Record<string, string> = { PRINTBOX_BIND: '', PRINTBOX_STATIC_DIR: staticDir, ...opts.env };
    let cloud: TestCloud | undefined;
    if (opts.cloud) {
      cloud = await startCloud();
      cleanups.unshift(() => cloud!.stop());
      env.PRINTBOX_CLOUD_URL = cloud.url;
    }
    let printer: Service | undefined;
    if (opts.printer) {
      printer = spawnService('services/printer/main.ts', { PRINTBOX_DATA_DIR: dataDir, PRINTBOX_RUN_DIR: runDir, PRINTBOX_VIRTUAL_PRINTERS: '1' });
      cleanups.unshift(() => printer!.stop());
      await printer.waitFor(/printer service ready/);
    }
    let updater: Service | undefined;
    if (opts.updater) {
      updater = spawnService('services/updater/main.ts', { PRINTBOX_DATA_DIR: dataDir, PRINTBOX_RUN_DIR: runDir, PRINTBOX_UPDATE_CHECK_H: '0', ...opts.updater });
      cleanups.unshift(() => updater!.stop());
      await updater.waitFor(/update service ready/);
    }
    const web = await startWeb({ dataDir, runDir, env });
    cleanups.unshift(() => web.stop());
    const fingerprint = new crypto.X509Certificate(web.ca).fingerprint256;
    return {
      base: `https://${host}:${web.httpsPort}`, netns: external.netns, web, auth, user, dataDir, runDir, fingerprint,
      ...(cloud ? { cloud } : {}), ...(printer ? { printer } : {}), ...(updater ? { updater } : {}),
      async stop() {
        for (const c of cleanups) await c();
        fs.rmSync(dataDir, { recursive: true, force: true });
        fs.rmSync(runDir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    for (const c of cleanups) await c();
    throw e;
  }
}
