/**
 * printbox-firstboot composition root (systemd oneshot, root). Reads env and argv, wires the link
 * store, cloud client and apply step, runs once, exits 0 (done / nothing to do) or 1 (error, also
 * written into printbox.txt and cloud/firstboot.json).
 * argv (tests and manual runs): --root DIR (apply system settings under DIR instead of /),
 *   --retry-base-ms N, --retry-max-ms N, --deadline-ms N.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { commonSchema, str } from '../shared/config.ts';
import { startService } from '../shared/service.ts';
import { cloudClientFactory } from '../shared/cloud-client.ts';
import { deviceInfo } from '../shared/link/device.ts';
import { CloudLink } from '../shared/link/service.ts';
import { LinkStore } from '../shared/link/store.ts';
import { runFirstboot } from './firstboot.ts';
import { takeLock } from './lock.ts';

const schema = {
  ...commonSchema,
  bootDir: str('PRINTBOX_BOOT_DIR', '/boot/firmware', 'FAT boot partition holding printbox.txt'),
  cloudUrl: str('PRINTBOX_CLOUD_URL', '', 'cloud to link to when printbox.txt names none'),
  cloudCa: str('PRINTBOX_CLOUD_CA', '', 'extra PEM CA file trusted for the cloud (private clouds, tests)'),
};

async function main(): Promise<number> {
  const env = process.env;
  const { values } = parseArgs({
    options: { root: { type: 'string', default: '/' }, 'retry-base-ms': { type: 'string' }, 'retry-max-ms': { type: 'string' }, 'deadline-ms': { type: 'string' } },
  });
  const { config, log } = startService('firstboot', schema, env);
  const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o750 });
  const lock = takeLock(path.join(config.dataDir, 'firstboot.lock'));
  if ('heldBy' in lock) {
    log.warn(`another printbox-firstboot is running (pid ${lock.heldBy}); leaving it to finish`);
    return 0;
  }
  process.on('exit', lock.release);
  const store = new LinkStore(config.dataDir);
  const cloud = cloudClientFactory({
    ...(config.cloudUrl ? { defaultUrl: config.cloudUrl } : {}),
    ...(config.cloudCa ? { extraCa: fs.readFileSync(config.cloudCa, 'utf8') } : {}),
    log, attempts: 1, timeoutMs: 15_000,
  });
  const link = new CloudLink({
    store, cloud, log, device: deviceInfo(pkg.version),
    // printbox-firstboot runs before printbox-printer (unit ordering): nothing can be printing yet.
    activePrints: async () => ({ active: false, printers: [] }),
  });
  const root = values.root ?? '/';
  // Best effort, real device only: tools missing or failing must not stop the rest of first boot.
  const run = (cmd: string, args: string[]) => new Promise<void>((resolve) => execFile(cmd, args, { timeout: 20_000 }, () => resolve()));
  const num = (v: string | undefined, d: number) => (v && /^\d+$/.test(v) ? Number(v) : d);
  const outcome = await runFirstboot({
    bootDir: config.bootDir, store, link, log,
    apply: {
      root,
      ...(root === '/' ? {
        setRuntimeHostname: (name: string) => run('hostname', [name]),
        reloadNetwork: async (country?: string) => {
          if (country) await run('iw', ['reg', 'set', country]);
          await run('nmcli', ['connection', 'reload']);
        },
      } : {}),
    },
    retry: { baseMs: num(values['retry-base-ms'], 2000), maxMs: num(values['retry-max-ms'], 60_000), deadlineMs: num(values['deadline-ms'], 15 * 60_000) },
  });
  return outcome.result === 'error' ? 1 : 0;
}

main().then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`printbox-firstboot failed: ${String((err as Error)?.stack ?? err)}\n`);
  process.exit(1);
});
