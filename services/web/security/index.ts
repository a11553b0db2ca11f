/**
 * The account-security services behind one object the web composition root builds once and passes in deps:
 * roles, API keys, TOTP, session side table, audit log, plus the three hooks the core calls —
 * principal from a Bearer header, principal for a signed-in user, and the login second factor.
 */
import { EventEmitter } from 'node:events';
import type { Db } from '../../shared/db.ts';
import { AppError, badRequest, notFound } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import type { Permission } from '../../shared/permissions.ts';
import type { Principal } from '../permissions.ts';
import { createApiKeyService, type ApiKeyService } from './apikeys.ts';
import { createAuditLog, type AuditLog } from './audit.ts';
import { loadDeviceKey } from './device-key.ts';
import { createRoleService, type RoleMapEntry, type RoleService } from './roles.ts';
import { ensureSecuritySchema } from './schema.ts';
import { createSessionService, type SessionService, type SessionStoreLike } from '../sessions/list.ts';
import { createTotpService, type TotpService } from './totp.ts';

export interface SecurityDeps {
  db: Db;
  dataDir: string;
  roleMap: RoleMapEntry[];
  sessionStore: SessionStoreLike;
  /** Absolute session lifetime (PRINTBOX_SESSION_MAX_H), to prune the session side table. */
  sessionMaxMs?: number;
  log: Logger;
  now?: () => Date;
}

export interface SignedInUser { username: string; method: 'pam' | 'cloud'; groups?: readonly string[] }

export interface Security {
  roles: RoleService;
  apiKeys: ApiKeyService;
  totp: TotpService;
  sessions: SessionService;
  audit: AuditLog;
  /** null when there is no Authorization header; 401 for any other scheme or a bad key. */
  principalFromAuthorization(header: string | undefined): Promise<Principal | null>;
  /** Role via assignment / PAM group map; with 2FA enforced, an account without TOTP gets no
   *  permissions (only 'authenticated' routes such as TOTP enrollment) until it enrolls. */
  principalForUser(user: SignedInUser): Promise<Principal>;
  /** Login, after the password was accepted: 401 totp_required / totp_invalid, 429 totp_throttled. */
  checkSecondFactor(username: string, totp: unknown): Promise<{ used: 'none' | 'totp' | 'recovery' }>;
  /** Records who signed in, so admins can pick them when assigning roles. */
  rememberUser(username: string, method: string): Promise<void>;
  knownUsers(): Promise<Array<{ username: string; method: string; last_login_at: string }>>;
  /** Admin actions name users who have signed in at least once; anything else is 404, not a new row. */
  requireKnownUser(username: string): Promise<void>;
  /**
   * `listener` runs after anything that can take permissions away from a signed-in account or a key
   * without ending its session (a custom role edited, 2FA enforced or reset): what was authorised once
   * and stays open — an event stream — re-checks then. Returns the unsubscribe function.
   */
  onPermissionsChanged(listener: () => void): () => void;
}

/** Query parameters that look like credentials: keys go in Authorization: Bearer only (CONTRACT). */
export const CREDENTIAL_QUERY_PARAMS = ['api_key', 'apikey', 'key', 'token', 'access_token', 'auth', 'authorization', 'bearer'];

export function refuseQueryCredentials(query: Record<string, unknown>): void {
  for (const k of Object.keys(query)) {
    if (CREDENTIAL_QUERY_PARAMS.includes(k.toLowerCase())) {
      throw badRequest('credentials_in_query', 'API keys are accepted only in the Authorization: Bearer header');
    }
  }
}

export async function createSecurity(deps: SecurityDeps): Promise<Security> {
  await ensureSecuritySchema(deps.db);
  const now = deps.now ?? (() => new Date());
  const audit = createAuditLog({ db: deps.db, now });
  const sessions = createSessionService({ db: deps.db, store: deps.sessionStore, now, ...(deps.sessionMaxMs ? { maxAgeMs: deps.sessionMaxMs } : {}) });
  const changes = new EventEmitter<{ changed: [] }>();
  changes.setMaxListeners(0); // one per open event stream
  const onPermissionsChanged = () => { changes.emit('changed'); };
  const roles = createRoleService({
    db: deps.db, roleMap: deps.roleMap, now, onPermissionsChanged,
    onUserRoleChanged: async (u) => { await sessions.endAllFor(u); },
  });
  const apiKeys = createApiKeyService({ db: deps.db, roles, now });
  const totp = createTotpService({ db: deps.db, deviceKey: loadDeviceKey(deps.dataDir), now, onPermissionsChanged });
  for (const m of deps.roleMap) {
    if (!(await roles.exists(m.role))) deps.log.warn(`PRINTBOX_ROLE_MAP: group ${m.group} maps to unknown role "${m.role}"; its members get "viewer"`);
  }

  return {
    roles, apiKeys, totp, sessions, audit,
    onPermissionsChanged(listener) {
      changes.on('changed', listener);
      return () => { changes.off('changed', listener); };
    },
    async principalFromAuthorization(header) {
      if (header === undefined) return null;
      const m = /^Bearer ([\x21-\x7e]{1,200})$/.exec(header);
      if (!m) throw new AppError('invalid_api_key', 401, 'Use Authorization: Bearer <API key>');
      return apiKeys.authenticate(m[1]!);
    },
    async principalForUser(user) {
      const role = await roles.roleFor(user);
      let permissions: Set<Permission> = await roles.permissionsOf(role);
      if (permissions.size > 0 && (await totp.enforced()) && !(await totp.isEnabled(user.username))) permissions = new Set();
      return { user: user.username, method: user.method, role, permissions };
    },
    async checkSecondFactor(username, code) {
      if (!(await totp.isEnabled(username))) return { used: 'none' };
      if (code === undefined || code === null || code === '') {
        throw new AppError('totp_required', 401, 'Enter the code from your authenticator app');
      }
      const r = await totp.verify(username, code);
      return { used: r.recovery ? 'recovery' : 'totp' };
    },
    async rememberUser(username, method) {
      await deps.db.run(`INSERT INTO known_users(username, method, last_login_at) VALUES (?,?,?)
        ON CONFLICT(username) DO UPDATE SET method = excluded.method, last_login_at = excluded.last_login_at`,
      [username.slice(0, 256), method, now().toISOString()]);
    },
    knownUsers: () => deps.db.all('SELECT username, method, last_login_at FROM known_users ORDER BY username'),
    async requireKnownUser(username) {
      if (!(await deps.db.get('SELECT 1 FROM known_users WHERE username = ?', [username]))) throw notFound('User');
    },
  };
}

export type { RoleMapEntry } from './roles.ts';
export { parseRoleMap } from './roles.ts';
