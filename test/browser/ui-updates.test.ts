/**
 * The Updates panel in a real browser, against the real update service (engine `none`: it checks and
 * downloads, and refuses to install on a machine that is not the image), a static update server
 * (express.static) and the real printer service: an admin checks, sees the offered release and its notes,
 * starts the update, watches it download and wait for the running print, and after the print reads why
 * nothing was installed here. A bad custom channel URL is refused with the reason. RAUC installs in the
 * image tests. Screenshots: test-artifacts/screenshots/updates-*.png.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import express from 'express';
import type { PrinterApi } from '../../services/shared/ipc.ts';
import { IpcClient } from '../../services/shared/ipc-transport.ts';
import { gcodeLines } from '../helpers/virtual-printer.ts';
import { tempDir } from '../helpers/web.ts';
import { launch, screenshot, type LaunchedBrowser } from './support.ts';
import { startUiStack, type UiStack } from './stack.ts';

let stack: UiStack;
let b: LaunchedBrowser;
let server: http.Server;
const served = tempDir('ui-updates-srv');
const pageErrors: string[] = [];

before(async () => {
  fs.mkdirSync(path.join(served, 'stable'));
  const bundle = randomBytes(3 * 1024 * 1024);
  fs.writeFileSync(path.join(served, 'stable/printbox-9.1.0-arm64.raucb'), bundle);
  fs.writeFileSync(path.join(served, 'stable/index.json'), JSON.stringify({
    format: 1, channel: 'stable', releases: [{
      version: '9.1.0', compatible: 'printbox-rpi-arm64', url: 'printbox-9.1.0-arm64.raucb', size: bundle.length,
      sha256: createHash('sha256').update(bundle).digest('hex'), notes: 'Faster uploads and a quieter fan.', released: '2026-12-01',
    }],
  }));
  const app = express();
  app.use(express.static(served));
  server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stack = await startUiStack({
    printer: true, env: { PRINTBOX_ROLE_MAP: 'printbox:admin' },
    updater: { PRINTBOX_UPDATE_SERVER: `http://127.0.0.1:${(server.address() as AddressInfo).port}` },
    seed: (dataDir) => {
      fs.mkdirSync(path.join(dataDir, 'files'), { recursive: true });
      fs.writeFileSync(path.join(dataDir, 'files/long.gcode'), ['G28', 'G1 Z0.2 F600', ...gcodeLines(60_000)].join('\n'));
    },
  });
  b = await launch({ netns: stack.netns });
  b.page.on('pageerror', (e) => pageErrors.push(e.message));
});

after(async () => {
  await b?.close();
  await stack?.stop();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  fs.rmSync(served, { recursive: true, force: true });
});

test('an admin checks for updates and sees the offered release with its notes', async () => {
  const p = b.page;
  await p.goto(stack.base + '/');
  await p.getByLabel('Username or cloud email').fill(stack.user.name);
  await p.getByLabel('Password', { exact: true }).fill(stack.user.password);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.getByRole('link', { name: 'System' }).click();
  const panel = p.getByRole('region', { name: 'Updates' });
  await panel.getByText('not checked yet').waitFor();
  await panel.getByRole('button', { name: 'Check for updates' }).click();
  await panel.getByText('9.1.0 (3 MB)').waitFor();
  await panel.getByText('Faster uploads and a quieter fan.').waitFor();
  await screenshot(p, 'updates-offered');
});

test('an update started during a print downloads, then waits for the print; after it, the refusal of this machine is shown', async () => {
  const p = b.page;
  const printer = new IpcClient<PrinterApi>({ path: path.join(stack.runDir, 'printer.sock'), service: 'printer' });
  const [vp] = await printer.call('printers.list', {});
  assert.ok(vp, 'the virtual printer');
  await printer.call('jobs.start', { printerId: vp.id, file: 'long.gcode' });
  const panel = p.getByRole('region', { name: 'Updates' });
  await panel.getByRole('button', { name: 'Update to 9.1.0' }).click();
  const dialog = p.getByRole('dialog', { name: 'Update to 9.1.0?' });
  await dialog.getByRole('button', { name: 'Update' }).click();
  await panel.getByRole('status').filter({ hasText: `Waiting for ${vp.name} to finish printing.` }).waitFor({ timeout: 60_000 });
  await panel.getByText(/waiting for the print to finish before installing/).waitFor();
  assert.ok(await panel.getByRole('button', { name: 'Cancel' }).isVisible(), 'a download or a wait can be cancelled');
  await screenshot(p, 'updates-waiting');
  await printer.call('jobs.cancel', { printerId: vp.id });
  await panel.getByRole('alert').filter({ hasText: 'only the PrintBox image installs updates' }).waitFor({ timeout: 60_000 });
  assert.ok(fs.existsSync(path.join(stack.dataDir, 'update/printbox-9.1.0.raucb')), 'the verified download stays for the next attempt');
  await screenshot(p, 'updates-no-engine');
});

test('a custom channel without a usable URL is refused with the reason; the settings stay as they were', async () => {
  const p = b.page;
  const panel = p.getByRole('region', { name: 'Updates' });
  await panel.getByLabel('Channel').selectOption('custom');
  await panel.getByLabel('Index URL').fill('ftp://example.com/index.json');
  await panel.getByRole('button', { name: 'Save' }).click();
  await panel.getByRole('alert').filter({ hasText: 'url must be http or https' }).waitFor();
  const s = await p.evaluate(async () => (await fetch('/api/updates')).json());
  assert.equal(s.settings.channel, 'stable');
  assert.deepEqual(pageErrors, []);
});
