/**
 * printbox-update composition root (STYLE.md): the only reader of process.env here. Reads what the
 * last boot did, serves update.sock to the web and the CLI, and checks the channel when a check is due.
 * RAUC does the installing and the slot switch; this process decides when.
 *
 * On the device it is socket-activated (printbox-update.socket) and, once the boot check is done and
 * nothing runs or waits, exits after PRINTBOX_UPDATE_IDLE_EXIT_S without connections: a resident Node
 * process costs ~40 MiB on a 512 MiB Zero 2 W. printbox-update.timer starts it again hourly, and a
 * check runs when the last one is PRINTBOX_UPDATE_CHECK_H old. Started by hand it stays and checks on
 * its own interval.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { request } from 'node:https';
import os from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError } from '../shared/errors.ts';
import { IpcClient, listenIpc } from '../shared/ipc-transport.ts';
import type { AuthApi, PrinterApi, UpdateApi, UpdateStatus } from '../shared/ipc.ts';
import { startService } from '../shared/service.ts';
import { createShutdown } from '../shared/shutdown.ts';
import { createNotifier, listenFds } from '../shared/systemd.ts';
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
  const [fd] = listenFds(env);
  const idleExit = fd !== undefined && config.idleExitS > 0;
  let starting = true; // the boot check and a due check come first
  let connections = 0;
  let idleTimer: NodeJS.Timeout | undefined;
  const shutdown = createShutdown({ log, notifier });
  const mayExit = () => idleExit && !starting && connections === 0 && !manager.busy();
  const armIdle = () => {
    clearTimeout(idleTimer);
    if (mayExit()) idleTimer = setTimeout(() => { if (mayExit()) void shutdown.run('idle'); }, config.idleExitS * 1000);
  };
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
    onChange: (s) => { changes.emit('status', s); armIdle(); },
  });

  // 0660: the web and the CLI (group printbox-ipc) may connect; nobody else. Activated, the socket unit set that.
  const server = await listenIpc<UpdateApi>({
    path: path.join(config.runDir, 'update.sock'), ...(fd === undefined ? {} : { fd }), mode: 0o660, log: log.child('ipc'),
    handlers: updateHandlers(manager, changes), onConnections: (n) => { connections = n; armIdle(); },
  });
  // The first boot of a newly installed version is on trial: it must become healthy or give way to the
  // other slot. Any other boot gives the running slot its tries back as soon as it runs — once per boot:
  // this service starts again and again (hourly, on demand), and each mark is a write to the boot partition.
  const pending = state.get().pending;
  const onTrial = config.engine === 'rauc' && !!pending && pending.bootId !== bootId && pending.to === pkg.version;
  const kept = path.join(config.runDir, 'update-kept');
  const auth = new IpcClient<AuthApi>({ path: path.join(config.runDir, 'auth.sock'), service: 'printbox-auth' });
  const boot = (async (): Promise<boolean> => {
    const keptThisBoot = fs.existsSync(kept); // /run is emptied at every boot
    if (onTrial && !keptThisBoot) {
      const r = await runTrial({
        checks: [
          { name: 'web', run: () => webHealth(config.httpsPort) },
          { name: 'printer service', run: async () => { await printer.call('printers.list', {}); } },
          { name: 'PAM helper', run: async () => { await auth.call('ping', {}); } },
        ],
        markGood: () => installer.markGood(), markBad: () => installer.markBad(), reboot,
        markKept: () => fs.writeFileSync(kept, `${new Date().toISOString()}\n`), log: log.child('trial'), trialMs: config.trialS * 1000,
      });
      if (!r.kept) return false; // the restart into the other slot is under way
    } else if (!keptThisBoot) {
      await installer.markGood().catch((e: unknown) => log.warn('could not mark this boot good', { error: (e as Error).message }));
      fs.writeFileSync(kept, `${new Date().toISOString()}\n`);
    }
    await manager.reconcile();
    return true;
  })().catch((e: unknown) => { log.error('boot check failed', { error: (e as Error).message }); return true; });

  const background = async () => {
    try {
      const s = await manager.check();
      if (s.available && s.settings.automatic) manager.apply({});
    } catch { /* kept in status().error for the UI */ }
  };
  let timer: NodeJS.Timeout | undefined;
  if (config.checkH > 0 && !idleExit) {
    timer = setInterval(() => void background(), config.checkH * 3600_000);
    timer.unref();
  }
  void (async () => {
    if (!(await boot)) return;
    const last = manager.status().lastCheck;
    const due = config.checkH > 0 && (!last || Date.now() - Date.parse(last) >= config.checkH * 3600_000 - 60_000);
    // a device that has just started lets the rest of the box settle for a minute first
    if (due) { await sleep(Math.max(0, 60 - os.uptime()) * 1000); await background(); }
    starting = false;
    armIdle();
  })();
  notifier.ready(`version ${pkg.version}`);
  shutdown.startWatchdog();
  log.info('update service ready', { socket: server.path, version: pkg.version, slot: engine?.booted ?? 'unknown', server: config.server || 'none', activated: fd !== undefined, idleExitS: idleExit ? config.idleExitS : 0 });
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
