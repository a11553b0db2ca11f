/**
 * printbox-auth composition root: the privileged PAM helper (runs as root, AF_UNIX only). It answers
 * AuthApi on <runDir>/auth.sock — passed in by printbox-auth.socket, or created here with mode 0660 and
 * group printbox-ipc (else printbox) — so the web process, running unprivileged, never reads /etc/shadow.
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { commonSchema, int, list, str } from '../shared/config.ts';
import { startService } from '../shared/service.ts';
import type { AuthApi } from '../shared/ipc.ts';
import { listenIpc } from '../shared/ipc-transport.ts';
import type { Logger } from '../shared/log.ts';
import { createShutdown } from '../shared/shutdown.ts';
import { createNotifier, listenFds } from '../shared/systemd.ts';
import { lookupAccount } from './accounts.ts';
import { createPamChecker, type PamAuthenticate } from './checker.ts';

const authSchema = {
  ...commonSchema,
  pamService: str('PRINTBOX_PAM_SERVICE', 'printbox', 'PAM service name (/etc/pam.d/<name>)'),
  pamGroups: list('PRINTBOX_PAM_GROUPS', ['printbox'], 'groups whose members may sign in; root only if "root" is listed'),
  idleExitS: int('PRINTBOX_AUTH_IDLE_EXIT_S', 60, 'socket-activated only: exit after this many seconds without connections (0 = never)', 0, 86_400),
};

type PamModule = { authenticate(u: string, p: string, cb: (err?: string) => void, opts?: { serviceName?: string }): void };
const pamModule = createRequire(import.meta.url)('authenticate-pam') as PamModule;
const pam: PamAuthenticate = (username, password, service) => new Promise((resolve, reject) => {
  pamModule.authenticate(username, password, (err) => (err ? reject(new Error(err)) : resolve()), { serviceName: service });
});

const groupId = (name: string) => new Promise<number | null>((resolve) => {
  execFile('getent', ['group', name], (err, out) => resolve(err ? null : Number(out.split(':')[2])));
});

/**
 * The account-stamp HMAC key: 32 random bytes in a root-only file, created on first start, so stamps
 * stay the same across helper restarts (a new key would end every PAM session). Without a writable
 * state dir the key lives only in memory: stamps then change when the helper restarts.
 */
function stampKey(dir: string, log: Logger): Buffer {
  const file = path.join(dir, 'auth.key');
  const read = () => { const k = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'hex'); if (k.length !== 32) throw new Error(`${file} is not 32 hex bytes`); return k; };
  try { return read(); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn('auth.key unreadable, replacing it', { error: String(err) }); }
  const key = crypto.randomBytes(32);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(file + '.tmp', key.toString('hex') + '\n', { mode: 0o600 });
    fs.renameSync(file + '.tmp', file);
    return key;
  } catch (err) {
    log.error('cannot store auth.key; account stamps change when this helper restarts', { file, error: String(err) });
    return key;
  }
}

async function main(): Promise<void> {
  const env = process.env;
  const { config, log } = startService('auth', authSchema, env);
  if (process.getuid?.() !== 0) log.warn('not running as root: PAM can only check the password of the user running this helper');
  if (!fs.existsSync(path.join('/etc/pam.d', config.pamService))) log.warn(`/etc/pam.d/${config.pamService} is missing; PAM falls back to "other" (usually deny all). Run scripts/setup.sh.`);

  // systemd's StateDirectory=printbox-auth (root, 0700): the web's data dir is not writable for this helper
  const keyDir = env.STATE_DIRECTORY?.split(':')[0] || config.dataDir;
  const checker = createPamChecker({ service: config.pamService, allowedGroups: config.pamGroups, log, pam, lookup: lookupAccount, stampKey: stampKey(keyDir, log) });
  const sockPath = path.join(config.runDir, 'auth.sock');
  const notifier = createNotifier(env);
  const shutdown = createShutdown({ log, notifier });
  // printbox-auth.socket (systemd/) creates the socket with its owner/group/mode and passes it as fd 3
  const [fd] = listenFds(env);
  if (fd === undefined) fs.mkdirSync(config.runDir, { recursive: true, mode: 0o755 });
  // Socket-activated, the helper need not stay resident (~50 MiB RSS on a 1 GiB Pi): with no
  // connection for idleExitS it exits 0 and systemd starts it again on the next connection to
  // auth.sock (the socket stays open in systemd, so no connection is lost). Run by hand it keeps running.
  let idleTimer: NodeJS.Timeout | undefined;
  let openConnections = 0;
  const idleExit = fd !== undefined && config.idleExitS > 0;
  const onConnections = (open: number) => {
    openConnections = open;
    clearTimeout(idleTimer);
    if (open === 0 && idleExit) idleTimer = setTimeout(() => void shutdown.run('idle'), config.idleExitS * 1000);
  };
  const server = await listenIpc<AuthApi>({
    path: sockPath,
    ...(fd === undefined ? {} : { fd }),
    log,
    onConnections,
    mode: 0o660,
    handlers: {
      'pam.authenticate': (p) => checker.authenticate(p.username, p.password),
      'account.stamp': async (p) => ({ stamp: await checker.stamp(p.username) }),
      'ping': async () => ({ ok: true }),
    },
  });
  shutdown.add('auth.sock', () => server.close());
  if (fd === undefined && process.getuid?.() === 0) {
    // printbox-ipc holds only the web's service user; group printbox also holds the people who may sign in,
    // and they must not reach PAM around the web's throttling
    const gid = (await groupId('printbox-ipc')) ?? (await groupId('printbox'));
    if (gid !== null) fs.chownSync(sockPath, 0, gid);
  }
  log.info('listening', { socket: sockPath, activated: fd !== undefined, service: config.pamService, groups: config.pamGroups, idleExitS: idleExit ? config.idleExitS : 0 });
  notifier.ready();
  onConnections(openConnections); // arms the idle timer unless the activating connection is already open
  shutdown.handleSignals();
}

main().catch((err: unknown) => {
  process.stderr.write(`printbox-auth failed to start: ${String((err as Error)?.stack ?? err)}\n`);
  process.exit(1);
});
