/**
 * printbox-web composition root (STYLE.md): the only reader of process.env in this service. Builds
 * config, logger, database, TLS material, IPC clients and the app, then listens on HTTPS and on
 * plain HTTP (redirect only) and handles signals.
 */
import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startService } from '../shared/service.ts';
import { openDb } from '../shared/db.ts';
import type { AuthApi, PrinterApi, PrinterEvent, UpdateApi } from '../shared/ipc.ts';
import type { Logger } from '../shared/log.ts';
import { IpcClient } from '../shared/ipc-transport.ts';
import { createShutdown } from '../shared/shutdown.ts';
import { createNotifier } from '../shared/systemd.ts';
import { Cameras } from './camera/cameras.ts';
import { CameraSettingsStore } from './camera/settings.ts';
import { TimelapseRecorder } from './timelapse/recorder.ts';
import { TimelapseSettingsStore } from './timelapse/settings.ts';
import { TimelapseStore } from './timelapse/store.ts';
import { createApp } from './app.ts';
import { webSchema } from './config.ts';
import type { WebDeps } from './deps.ts';
import { createHostCheck } from './hosts.ts';
import { createSystemAdmin } from './system/admin.ts';
import { execTool } from '../shared/tools.ts';
import { createHotspot, hotspotSsid } from './onboard/hotspot.ts';
import { isPortalRequest, portalHandler } from './onboard/portal.ts';
import { OnboardSupervisor } from './onboard/supervisor.ts';
import { installPush } from './octoprint/index.ts';
import { createSecurity } from './security/index.ts';
import { WEB_MIGRATIONS } from './migrations.ts';
import { cloudOwnerVerifier, createWebCloudLink } from './cloud-owner.ts';
import { redirectToHttps } from './redirect.ts';
import { LoginThrottle } from './throttle.ts';
import { ensureCert } from './tls.ts';
import { openSessionStore } from './sessions/store.ts';
import { createSessionStreams } from './sessions/streams.ts';
import { createAccountCheck } from './account-check.ts';

const require = createRequire(import.meta.url);
const pkg = require('../../package.json') as { version: string };

/** A random secret created once per device, kept in the data dir so sessions survive restarts. */
function sessionSecret(file: string): string {
  try { return fs.readFileSync(file, 'utf8').trim(); } catch { /* first start */ }
  const secret = crypto.randomBytes(32).toString('hex');
  fs.writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'wx' });
  return secret;
}

async function main(): Promise<void> {
  const env = process.env;
  const { config, log } = startService('web', webSchema, env);
  const notifier = createNotifier(env);

  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o750 });
  const dbFile = path.join(config.dataDir, 'printbox.db');
  const db = await openDb(dbFile, WEB_MIGRATIONS);

  // read on each refresh: first boot or the user may rename the device while the web runs. The unit's
  // ProtectHostname= gives the web its own UTS namespace, where os.hostname() keeps the name of its start:
  // with device administration on (the image) the static name in /etc/hostname is the current one.
  const staticName = () => { try { return fs.readFileSync('/etc/hostname', 'utf8').split('\n')[0]!.trim(); } catch { return ''; } };
  const deviceName = () => config.hostname || (config.systemAdmin && staticName()) || os.hostname();
  const hostname = deviceName();
  const hosts = createHostCheck({ hostname: deviceName, interfaces: () => os.networkInterfaces() });
  const tls = await ensureCert({ dir: path.join(config.dataDir, 'tls'), hostname, ...hosts.names(), log });

  const sessions = openSessionStore(dbFile, config.sessionMaxH * 3600_000);
  const sessionStore = sessions.store;
  const streams = createSessionStreams();
  sessionStore.onDestroy((sid) => streams.endSession(sid));
  // Roles (PRINTBOX_ROLE_MAP), API keys, TOTP (device key in the data dir), sessions, audit.
  const security = await createSecurity({ db, dataDir: config.dataDir, roleMap: config.roleMap, sessionStore, sessionMaxMs: config.sessionMaxH * 3600_000, log: log.child('security') });
  security.apiKeys.onRevoke((id) => streams.endKey(id));

  // Cloud link state in the data dir; unlink asks the printer service whether anything prints.
  const cloud = createWebCloudLink({
    dataDir: config.dataDir, cloudUrl: config.cloudUrl, cloudCa: config.cloudCa, version: pkg.version, log: log.child('cloud'),
    activePrints: () => deps.printer.call('jobs.active', {}),
  });
  const pam = new IpcClient<AuthApi>({ path: path.join(config.runDir, 'auth.sock'), service: 'authentication', timeoutMs: 15_000 });
  const deps: WebDeps = {
    config,
    version: pkg.version,
    log,
    db,
    pam,
    streams,
    fileChanges: new EventEmitter<{ changed: [] }>().setMaxListeners(0), // one listener per open event stream
    cameras: new Cameras(config.cameraDir, new CameraSettingsStore(config.dataDir)),
    accountCheck: createAccountCheck({ pam, intervalMs: config.accountRecheckS * 1000, log: log.child('account') }),
    printer: new IpcClient<PrinterApi>({ path: path.join(config.runDir, 'printer.sock'), service: 'printer' }),
    // printbox-update exits when idle: a request may first wait for it to start (seconds on a Zero 2 W)
    update: new IpcClient<UpdateApi>({ path: path.join(config.runDir, 'update.sock'), service: 'update', timeoutMs: 30_000 }),
    owner: cloudOwnerVerifier(cloud),
    cloud,
    throttle: new LoginThrottle(),
    hosts,
    tls,
    sessionStore,
    sessionSecret: sessionSecret(path.join(config.dataDir, 'session.secret')),
    roles: security.roles,
    apiKeys: security.apiKeys,
    audit: security.audit,
    security,
    ...(config.systemAdmin ? { admin: createSystemAdmin(execTool, { secretDir: config.runDir }) } : {}),
  };
  deps.timelapse = startTimelapse(deps, log.child('timelapse'));
  const app = createApp(deps);

  const bind = config.bind || undefined;
  const httpsServer = https.createServer({ key: tls.key, cert: tls.cert, minVersion: 'TLSv1.2' }, app);
  // OctoPrint's push API (SockJS + raw websocket) at /octoprint/<printer-id>/sockjs: needs the server itself for upgrades
  const push = installPush(httpsServer, deps);
  await listen(httpsServer, config.httpsPort, bind);
  const httpsPort = (httpsServer.address() as AddressInfo).port;
  // Wi-Fi onboarding: a setup hotspot when no network comes up; its portal answers on plain HTTP, on the
  // hotspot's own address only, and everything else on port 80 redirects to HTTPS.
  const onboard = deps.admin && config.hotspotAfterS > 0
    ? new OnboardSupervisor({ hotspot: createHotspot(execTool), admin: deps.admin, ssid: hotspotSsid(), afterS: config.hotspotAfterS, retryS: config.hotspotRetryS, log: log.child('onboard') })
    : undefined;
  const redirect = redirectToHttps({ hosts, httpsPort });
  const portal = onboard && portalHandler({ onboard, deviceName: () => `${deviceName()}.local`, audit: deps.audit, onError: (e) => log.warn('audit write failed', { error: String(e) }) });
  const httpServer = http.createServer((req, res) => (portal && isPortalRequest(req, onboard) ? portal(req, res) : redirect(req, res)));
  await listen(httpServer, config.httpPort, bind);
  const httpPort = (httpServer.address() as AddressInfo).port;
  log.info('listening', { https: httpsPort, http: httpPort, bind: bind ?? '*', sha256: tls.fingerprint256 });
  notifier.ready(`HTTPS on ${httpsPort}`);
  // Autologin from the stored device token; never blocks startup on the network.
  cloud.resume().catch((e: unknown) => log.warn('cloud resume failed', { error: String(e) }));
  const shutdown = createShutdown({ log, notifier });
  shutdown.startWatchdog();
  // not awaited: close() waits for keep-alive and event-stream connections that closeAllConnections ends
  shutdown.add('push sockets', () => push.close());
  shutdown.add('http servers', () => { for (const s of [httpsServer, httpServer]) { s.close(); s.closeAllConnections(); } });
  shutdown.add('timelapse', () => deps.timelapse?.recorder.stop());
  onboard?.start();
  shutdown.add('onboarding', () => onboard?.stop());
  shutdown.add('database', () => db.close());
  shutdown.add('session database', () => sessions.close());
  shutdown.handleSignals();
}

/** The recorder listens to every printer event (layers, job ends) for as long as the web runs. */
function startTimelapse(deps: WebDeps, log: Logger): WebDeps['timelapse'] {
  const settings = new TimelapseSettingsStore(deps.config.dataDir);
  const store = new TimelapseStore(deps.config.dataDir);
  const recorder = new TimelapseRecorder({
    store, settings, cameras: deps.cameras, log,
    // The printer's current job: the one asked about still runs, or it ended (another job or none now).
    jobState: async (job, printerId) => { const j = await deps.printer.call('jobs.get', { printerId }); return j.id === job ? j.state : 'done'; },
  });
  // Not awaited: it may ask the printer service, which can start after the web.
  recorder.start().catch((e: unknown) => log.warn('timelapse: start failed', { error: String(e) }));
  deps.printer.subscribe('events.subscribe', (ev) => recorder.onEvent(ev as PrinterEvent));
  return { settings, store, recorder };
}

function listen(server: http.Server | https.Server, port: number, host: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`printbox-web failed to start: ${String((err as Error)?.stack ?? err)}\n`);
  process.exit(1);
});
