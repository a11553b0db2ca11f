/**
 * printbox-update composition root (STYLE.md): the only reader of process.env here. Reads what the
 * last boot did, serves update.sock to the web and the CLI, and checks the channel on a timer. RAUC
 * does the installing and the slot switch; this process decides when.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { request } from 'node:https';
import { createRequire } from 'node:module';
import path from 'node:path';
import { AppError } from '../shared/errors.ts';
import { IpcClient, listenIpc } from '../shared/ipc-transport.ts';
import type { AuthApi, PrinterApi, UpdateApi, UpdateStatus } from '../shared/ipc.ts';
import { startService } from '../shared/service.ts';
import { createShutdown } from '../shared/shutdown.ts';
import { createNotifier } from '../shared/systemd.ts';
import { execTool, toolError } from '../shared/tools.ts';
import { updaterSchema } from './config.ts';
import { runTrial } from './health.ts';
import { updateHandlers } from './ipc-server.ts';
import { noEngine } from './installer.ts';
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

  const installer = config.engine === 'rauc' ? raucInstaller() : noEngine();
  const printer = new IpcClient<PrinterApi>({ path: path.join(config.runDir, 'printer.sock'), service: 'printbox-printer' });
  const engine = await installer.slots().catch(() => undefined);
  const changes = new EventEmitter<{ status: [UpdateStatus] }>();
  const state = StateFile.open(path.join(dir, 'state.json'), log.child('state'));
  const bootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  const reboot = async () => {
    // without an engine this is a development machine: never restart it
    if (config.engine !== 'rauc') throw new AppError('update_engine_missing', 503, 'This installation does not restart for updates (PRINTBOX_UPDATE_ENGINE=none)');
    try { await execTool('systemctl', ['--no-ask-password', 'reboot']); } catch (e) { throw toolError(e, 'reboot_failed', 'Restarting'); }
  };
  const manager = new UpdateManager({
    current: { version: pkg.version, compatible: engine?.compatible || config.compatible },
    installer,
    state,
    printers: () => printer.call('printers.list', {}),
    reboot,
    channelUrl: (channel) => (config.server ? new URL(`${channel}/index.json`, config.server.endsWith('/') ? config.server : `${config.server}/`).href : undefined),
    bootId,
    dir,
    log,
    onChange: (s) => changes.emit('status', s),
  });

  // 0660: the web and the CLI (group printbox) may connect; nobody else
  const server = await listenIpc<UpdateApi>({ path: path.join(config.runDir, 'update.sock'), mode: 0o660, log: log.child('ipc'), handlers: updateHandlers(manager, changes) });
  // The first boot of a newly installed version is on trial: it must become healthy or give way to the
  // other slot. Any other boot gives the running slot its tries back as soon as it runs.
  const pending = state.get().pending;
  const onTrial = config.engine === 'rauc' && !!pending && pending.bootId !== bootId && pending.to === pkg.version;
  const kept = path.join(config.runDir, 'update-kept');
  const auth = new IpcClient<AuthApi>({ path: path.join(config.runDir, 'auth.sock'), service: 'printbox-auth' });
  void (async () => {
    if (onTrial) {
      const r = await runTrial({
        checks: [
          { name: 'web', run: () => webHealth(config.httpsPort) },
          { name: 'printer service', run: async () => { await printer.call('printers.list', {}); } },
          { name: 'PAM helper', run: async () => { await auth.call('ping', {}); } },
        ],
        markGood: () => installer.markGood(), markBad: () => installer.markBad(), reboot,
        markKept: () => fs.writeFileSync(kept, `${new Date().toISOString()}\n`), log: log.child('trial'), trialMs: config.trialS * 1000,
      });
      if (!r.kept) return;
    } else {
      await installer.markGood().catch((e: unknown) => log.warn('could not mark this boot good', { error: (e as Error).message }));
      fs.writeFileSync(kept, `${new Date().toISOString()}\n`);
    }
    await manager.reconcile();
  })().catch((e: unknown) => log.error('boot check failed', { error: (e as Error).message }));

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

/** The web's own health document over loopback HTTPS (its certificate is the device's self-signed one). */
async function webHealth(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/health', rejectUnauthorized: false, timeout: 10_000 }, (res) => {
      res.resume();
      if (res.statusCode === 200) resolve(); else reject(new Error(`/api/health answered ${res.statusCode}`));
    });
    req.on('timeout', () => req.destroy(new Error('no answer in 10 s')));
    req.on('error', reject);
    req.end();
  });
}

main().catch((e) => {
  process.stderr.write(`printbox-update failed to start: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
