/**
 * Everything a route handler may use, built once by main.ts (the composition root) and passed to
 * createApp(deps). Tests build their own WebDeps with real or fake parts. Areas add fields here
 * (additively, optional where the core runs without them).
 */
import type { EventEmitter } from 'node:events';
import type { Store } from 'express-session';
import type { Db } from '../shared/db.ts';
import type { AuthApi, PrinterApi, UpdateApi } from '../shared/ipc.ts';
import type { IpcClient } from '../shared/ipc-transport.ts';
import type { Logger } from '../shared/log.ts';
import type { CloudLink } from '../shared/link/service.ts';
import type { WebConfig } from './config.ts';
import type { HostCheck } from './hosts.ts';
import type { OwnerVerifier } from './owner.ts';
import type { Permission } from '../shared/permissions.ts';
import type { Principal } from './permissions.ts';
import type { LoginThrottle } from './throttle.ts';
import type { TlsMaterial } from './tls.ts';
import type { Security } from './security/index.ts';
import type { AccountCheck } from './account-check.ts';
import type { SessionStreams } from './sessions/streams.ts';
import type { Cameras } from './camera/cameras.ts';
import type { TimelapseRecorder } from './timelapse/recorder.ts';
import type { TimelapseSettingsStore } from './timelapse/settings.ts';
import type { TimelapseStore } from './timelapse/store.ts';
import type { SystemAdmin } from './system/admin.ts';

/** The account-security area plugs these in; without them the core uses built-in roles and no API keys. */
export interface RoleResolver {
  roleFor(user: { username: string; method: 'pam' | 'cloud' | 'local'; groups?: readonly string[] }): Promise<string>;
  permissionsOf(role: string): Promise<Set<Permission>>;
}
export interface ApiKeyAuthenticator {
  /** Resolves `Authorization: Bearer <key>`; throws AppError 401 for an unknown/expired key. */
  authenticate(bearer: string): Promise<Principal>;
}
export interface AuditSink {
  record(e: { actor: string; method: string; ip: string; action: string; target?: string; outcome: 'success' | 'failure' | 'denied'; details?: Record<string, unknown> }): Promise<void>;
}

export interface WebDeps {
  config: WebConfig;
  /** package.json version, reported by /api/health. */
  version: string;
  log: Logger;
  db: Db;
  /** auth.sock: the privileged PAM helper (services/auth). */
  pam: IpcClient<AuthApi>;
  /** printer.sock: the only owner of serial ports (services/printer). */
  printer: IpcClient<PrinterApi>;
  /** update.sock: downloads and installs system updates (services/updater); without it /api/updates answers 503. */
  update?: IpcClient<UpdateApi>;
  /** Login as the linked cloud owner (the cloud area implements it). */
  owner: OwnerVerifier;
  throttle: LoginThrottle;
  hosts: HostCheck;
  tls: Pick<TlsMaterial, 'cert' | 'fingerprint256' | 'validTo' | 'sans'>;
  sessionStore: Store;
  /** Signs the session cookie; persisted in the data dir so sessions survive restarts. */
  sessionSecret: string;
  roles?: RoleResolver;
  apiKeys?: ApiKeyAuthenticator;
  audit?: AuditSink;
  /** Cloud link use cases (routes/cloud.ts); without it /api/cloud answers 503. */
  cloud?: CloudLink;
  /** TOTP, session list, 2FA enforcement, custom roles (services/web/security). */
  security?: Security;
  /** Ends a PAM session when its account changed outside PrintBox (password, lock, groups); account-check.ts. */
  accountCheck?: AccountCheck;
  /** Open event streams by session, ended when their session is destroyed (sessions/streams.ts; wired to TombstoneStore.onDestroy). */
  streams?: SessionStreams;
  /** 'changed' after an upload or delete in the files dir: open event streams tell their clients to list it again. */
  fileChanges?: EventEmitter<{ changed: [] }>;
  /** The ustreamer sockets and per-camera settings (camera/); without it no camera is listed. */
  cameras?: Cameras;
  /** Timelapse settings, videos and the recorder that feeds on printer events (timelapse/). */
  timelapse?: { settings: TimelapseSettingsStore; store: TimelapseStore; recorder: TimelapseRecorder };
  /** Wi-Fi, hostname, timezone, reboot/power-off through the system's D-Bus services (system/admin.ts); without it those routes answer 503. */
  admin?: SystemAdmin;
  now?: () => number;
}
