/**
 * printbox-printer composition root (STYLE.md): the only reader of process.env here. Opens the job
 * database and file store, starts virtual printers if asked, discovers ports, serves printer.sock.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { startService } from '../shared/service.ts';
import { FileStore } from '../shared/files.ts';
import { listenIpc } from '../shared/ipc-transport.ts';
import type { PrinterApi } from '../shared/ipc.ts';
import { createShutdown } from '../shared/shutdown.ts';
import { createNotifier } from '../shared/systemd.ts';
import { printerSchema } from './config.ts';
import { printerHandlers } from './ipc-server.ts';
import { JobStore } from './jobs/job-store.ts';
import { PrinterManager } from './manager.ts';
import { ProfileStore } from './profiles/profile-store.ts';
import { openSerialPort } from './serial/port.ts';
import { VirtualPrinter } from './virtual/virtual-printer.ts';

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

async function main(): Promise<void> {
  const env = process.env;
  const { config, log } = startService('printer', printerSchema, env);
  const notifier = createNotifier(env);

  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o750 });
  fs.mkdirSync(config.runDir, { recursive: true, mode: 0o755 });
  const files = new FileStore(path.join(config.dataDir, 'files'));
  await files.init();
  const store = await JobStore.open(path.join(config.dataDir, 'printer.db'), { historyMax: config.jobHistoryMax });

  const profiles = ProfileStore.open(path.join(config.dataDir, 'profiles.json'), log.child('profiles'));

  const virtuals: VirtualPrinter[] = [];
  const extra = [...config.serialPorts];
  if (config.virtualPrinters > 0) {
    const dir = path.join(config.runDir, 'virtual');
    fs.mkdirSync(dir, { recursive: true });
    // Built like current stock Marlin configs: HOST_ACTION_COMMANDS and HOST_PROMPT_SUPPORT on (M600/M0 dialogs).
    for (let i = 1; i <= config.virtualPrinters; i++) {
      // The pty bridge is python3's (not in the image): without it there is no virtual printer, but the real
      // printers must still be served.
      try {
        virtuals.push(await VirtualPrinter.create({ link: path.join(dir, `virtual-${i}`), name: `PrintBox Virtual ${i}`, seed: i, latencyMs: 5, hostActions: true, promptSupport: true }));
      } catch (e) {
        log.error('virtual printer not started: it needs python3 for its pseudo-terminal', { printer: i, error: (e as Error).message });
        break;
      }
    }
    extra.push(path.join(dir, 'virtual-*'));
  }

  const manager = new PrinterManager({
    discovery: { byIdDir: '/dev/serial/by-id', extra, log: log.child('discovery') },
    baudrates: config.baudrates, openPort: openSerialPort, store, files, log, printer: { probeTimeoutMs: config.probeTimeoutMs },
  });
  await manager.start();
  // 0660: web (group printbox) may connect; nobody else. The unit's Group= gives the socket its group.
  const server = await listenIpc<PrinterApi>({
    path: path.join(config.runDir, 'printer.sock'), mode: 0o660, log: log.child('ipc'),
    handlers: printerHandlers({ manager, store, files, profiles, version: pkg.version }),
  });
  notifier.ready('printers: ' + manager.list().length);
  const shutdown = createShutdown({ log, notifier });
  shutdown.startWatchdog();
  log.info('printer service ready', { socket: server.path, virtual: virtuals.length, extra });

  shutdown.add('printer.sock', () => server.close());
  // A running print is checkpointed as interrupted, not lost: the next start reports it as paused.
  shutdown.add('printers', () => manager.stop());
  shutdown.add('virtual printers', () => Promise.all(virtuals.map((v) => v.close())));
  shutdown.add('job store', () => store.close());
  shutdown.handleSignals();
}

main().catch((e) => {
  process.stderr.write(`printbox-printer failed to start: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
