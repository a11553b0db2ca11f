/**
 * `printbox` console command — composition root: reads env (PRINTBOX_DATA_DIR, PRINTBOX_RUN_DIR,
 * PRINTBOX_CLOUD_URL, PRINTBOX_CLOUD_CA, PRINTBOX_LOG_LEVEL) and argv, wires the link service or the
 * update service's client, runs one command. Exit codes: 0 ok, 1 failure, 2 usage, 130 cancelled.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { commonSchema, loadConfig, str } from '../shared/config.ts';
import { cloudClientFactory } from '../shared/cloud-client.ts';
import { AppError } from '../shared/errors.ts';
import type { PrinterApi, UpdateApi } from '../shared/ipc.ts';
import { IpcClient } from '../shared/ipc-transport.ts';
import { createLogger } from '../shared/log.ts';
import { deviceInfo } from '../shared/link/device.ts';
import { CloudLink } from '../shared/link/service.ts';
import { LinkStore } from '../shared/link/store.ts';
import { linkCommand, offlineCommand, statusCommand, unlinkCommand, USAGE, type CliDeps } from './commands.ts';
import { updateCommand } from './update.ts';

const schema = {
  ...commonSchema,
  cloudUrl: str('PRINTBOX_CLOUD_URL', '', 'cloud to link to'),
  cloudCa: str('PRINTBOX_CLOUD_CA', '', 'extra PEM CA file trusted for the cloud'),
};

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      email: { type: 'string' }, 'link-token': { type: 'string' }, 'cloud-url': { type: 'string' },
      json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false },
      'allow-downgrade': { type: 'boolean', default: false }, detach: { type: 'boolean', default: false },
    },
  });
  const cmd = positionals[0];
  if (values.help || !cmd || !['link', 'unlink', 'offline', 'status', 'update'].includes(cmd)) {
    process.stderr.write(USAGE);
    return values.help ? 0 : 2;
  }
  const { config, errors } = loadConfig(schema, process.env);
  // Only warnings and worse: the command's own output is the user interface here.
  const log = createLogger({ scope: 'printbox', level: config.logLevel === 'info' ? 'error' : config.logLevel });
  errors.forEach((e) => log.error(`config: ${e}`));
  if (cmd === 'update') {
    // a printbox-update that is busy answers at once; only check and rollback wait on the network or the engine
    // printbox-update exits when idle: the first request may wait for it to start
    const update = new IpcClient<UpdateApi>({ path: path.join(config.runDir, 'update.sock'), service: 'update', timeoutMs: 30_000 });
    return updateCommand({ update, stdout: (t) => process.stdout.write(t) }, {
      sub: positionals[1], arg: positionals[2], json: values.json ?? false, allowDowngrade: values['allow-downgrade'] ?? false, detach: values.detach ?? false, cwd: process.cwd(),
    });
  }
  const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
  const printer = new IpcClient<PrinterApi>({ path: path.join(config.runDir, 'printer.sock'), service: 'printer', timeoutMs: 5000 });
  const cloud = cloudClientFactory({
    ...(config.cloudUrl ? { defaultUrl: config.cloudUrl } : {}),
    ...(config.cloudCa ? { extraCa: fs.readFileSync(config.cloudCa, 'utf8') } : {}),
    log, attempts: 2, timeoutMs: 10_000,
  });
  let store: LinkStore;
  try { store = new LinkStore(config.dataDir); } catch (e) {
    throw new AppError('no_access', 1, `Cannot use the data dir ${config.dataDir} (${(e as NodeJS.ErrnoException).code}); run as root: sudo printbox ${cmd}`);
  }
  const link = new CloudLink({ store, cloud, log, device: deviceInfo(pkg.version), activePrints: () => printer.call('jobs.active', {}) });
  const deps: CliDeps = { link, printer, io: { stdin: process.stdin, stderr: process.stderr }, stdout: (t) => process.stdout.write(t) };
  switch (cmd) {
    case 'link': return linkCommand(deps, {
      ...(values.email ? { email: values.email } : {}),
      ...(values['link-token'] !== undefined ? { linkToken: values['link-token'] } : {}),
      ...(values['cloud-url'] ? { cloudUrl: values['cloud-url'] } : {}),
    });
    case 'unlink': return unlinkCommand(deps);
    case 'offline': return offlineCommand(deps);
    default: return statusCommand(deps, values.json ?? false);
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err: unknown) => {
  if (err instanceof AppError) {
    process.stderr.write(`printbox: ${err.message}\n`);
    process.exit(err.code === 'usage' ? 2 : err.code === 'cancelled' ? 130 : 1);
  }
  const msg = (err as Error)?.message ?? String(err);
  process.stderr.write(`printbox: ${/Unknown option|Unexpected argument|argument missing/.test(msg) ? `${msg}\n${USAGE}` : `failed: ${msg}\n`}`);
  process.exit(/Unknown option|Unexpected argument|argument missing/.test(msg) ? 2 : 1);
});
