/**
 * printbox-update composition root (STYLE.md): the only reader of process.env here. Reads what the
 * last boot did, serves update.sock to the web and the CLI, and checks the channel on a timer. RAUC
 * does the installing and the slot switch; this process decides when.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { IpcClient, listenIpc } from '../shared/ipc-transport.ts';
import type { PrinterApi, UpdateApi, UpdateStatus } from '../shared/ipc.ts';
import { startService } from '../shared/service.ts';
import { createShutdown } from '../shared/shutdown.ts';
import { createNotifier } from '../shared/systemd.ts';
import { execTool, toolError } from '../shared/tools.ts';
import { updaterSchema } from './config.ts';
import { updateHandlers } from './ipc-server.ts';
import { UpdateManager } from './manager.ts';
import { raucInstaller } from './rauc.ts';
import { StateFile } from './state.ts';

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

async function main(): Promise<void> {
  const env = process.env;
  const { config, log } = startService('update', updaterSchema, env);
  const notifier = createNotifier(env);
  const dir = path.join(config.dataDir, 'update');
  fs.mkdirSync(dir, { recursive: true, mode: 0o750 });

  const installer = raucInstaller();
  const printer = new IpcClient<PrinterApi>({ path: path.join(config.runDir, 'printer.sock'), service: 'printbox-printer' });
  const engine = await installer.slots().catch(() => undefined);
  const changes = new EventEmitter<{ status: [UpdateStatus] }>();
  const manager = new UpdateManager({
    current: { version: pkg.version, compatible: engine?.compatible || config.compatible },
    installer,
    state: StateFile.open(path.join(dir, 'state.json'), log.child('state')),
    printers: () => printer.call('printers.list', {}),
    reboot: async () => {
      try { await execTool('systemctl', ['--no-ask-password', 'reboot']); } catch (e) { throw toolError(e, 'reboot_failed', 'Restarting'); }
    },
    channelUrl: (channel) => (config.server ? new URL(`${channel}/index.json`, config.server.endsWith('/') ? config.server : `${config.server}/`).href : undefined),
    bootId: fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
    dir,
    log,
    onChange: (s) => changes.emit('status', s),
  });
  await manager.reconcile();

  // 0660: the web and the CLI (group printbox) may connect; nobody else
  const server = await listenIpc<UpdateApi>({ path: path.join(config.runDir, 'update.sock'), mode: 0o660, log: log.child('ipc'), handlers: updateHandlers(manager, changes) });
  let timer: NodeJS.Timeout | undefined;
  if (config.checkH > 0) {
    const background = async () => {
      try {
        const s = await manager.check();
        if (s.available && s.settings.automatic) manager.apply({});
      } catch { /* kept in status().error for the UI */ }
    };
    timer = setInterval(() => void background(), config.checkH * 3600_000);
    timer.unref();
    setTimeout(() => void background(), 60_000).unref(); // once the rest of the box has settled after boot
  }
  notifier.ready(`version ${pkg.version}`);
  const shutdown = createShutdown({ log, notifier });
  shutdown.startWatchdog();
  log.info('update service ready', { socket: server.path, version: pkg.version, slot: engine?.booted ?? 'unknown', server: config.server || 'none' });
  shutdown.add('timer', async () => { clearInterval(timer); });
  shutdown.add('update.sock', () => server.close());
  shutdown.handleSignals();
}

main().catch((e) => {
  process.stderr.write(`printbox-update failed to start: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
