/**
 * API keys. A key is `pbk_<prefix>_<secret>`, or in the OctoPrint form (`"format": "octoprint"`)
 * `<prefix><secret>`, 43 characters of [A-Za-z0-9_-] like OctoPrint's own keys, because some OctoPrint
 * clients refuse other lengths (FDM Monster 2.1.1 validates 32–43 characters). The prefix (8 hex chars)
 * is stored in the clear, shown in listings and used to find the row; the whole key is stored only as
 * its SHA-256 (a random secret of 256 or 210 bits needs no slow hash — nobody can brute-force it —
 * unlike passwords) and compared with crypto.timingSafeEqual. The key is returned exactly once, at creation.
 * Keys act with a role or an explicit permission subset, never more than their creator had.
 */
import crypto from 'node:crypto';
import type { Db } from '../../shared/db.ts';
import { AppError, badRequest, forbidden, notFound } from '../../shared/errors.ts';
import type { Permission } from '../../shared/permissions.ts';
import type { Principal } from '../permissions.ts';
import { parsePermissions, type RoleService } from './roles.ts';

export interface ApiKeyInfo {
  id: number;
  name: string;
  prefix: string;
  owner: string;
  role: string | null;
  permissions: Permission[] | null;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface CreateKeyInput { name?: unknown; role?: unknown; permissions?: unknown; expires_at?: unknown; expires_in_days?: unknown; format?: unknown }

export interface ApiKeyService {
  create(creator: Principal, input: CreateKeyInput): Promise<{ key: string; info: ApiKeyInfo }>;
  list(): Promise<ApiKeyInfo[]>;
  revoke(id: number): Promise<ApiKeyInfo>;
  /** Called after a key was revoked, so open event streams of that key end at once (sessions/streams.ts). */
  onRevoke(listener: (id: number) => void): void;
  /** Resolves `Authorization: Bearer …` to a principal, or throws 401 invalid_api_key. */
  authenticate(bearer: string): Promise<Principal>;
}

const KEY_RE = /^pbk_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$/;
/** OctoPrint's length (a 43-character token_urlsafe); the last 35 characters carry 210 random bits. */
const OCTOPRINT_KEY_RE = /^([0-9a-f]{8})[A-Za-z0-9_-]{35}$/;
export type KeyFormat = 'printbox' | 'octoprint';

function newKey(format: KeyFormat, prefix: string): string {
  if (format === 'octoprint') return prefix + crypto.randomBytes(27).toString('base64url').slice(0, 35);
  return `pbk_${prefix}_${crypto.randomBytes(32).toString('base64url')}`;
}

function keyFormat(v: unknown): KeyFormat {
  if (v === undefined || v === null || v === 'printbox') return 'printbox';
  if (v === 'octoprint') return 'octoprint';
  throw badRequest('invalid_format', 'format is "printbox" (default) or "octoprint"');
}
/** last_used_at is written at most this often per key: a busy script must not turn every GET into a write. */
const TOUCH_MS = 60_000;

const sha256 = (s: string) => crypto.createHash('sha256').update(s, 'utf8').digest();

type Row = Omit<ApiKeyInfo, 'permissions'> & { permissions: string | null; hash: Buffer };
const toInfo = ({ hash: _hash, ...r }: Row): ApiKeyInfo => ({ ...r, permissions: r.permissions ? (JSON.parse(r.permissions) as Permission[]) : null });

export function createApiKeyService(deps: { db: Db; roles: RoleService; now?: () => Date }): ApiKeyService {
  const now = deps.now ?? (() => new Date());
  const revokeListeners: Array<(id: number) => void> = [];
  const invalid = () => new AppError('invalid_api_key', 401, 'Invalid, expired or revoked API key');

  async function expiry(input: CreateKeyInput): Promise<string | null> {
    if (input.expires_in_days !== undefined && input.expires_in_days !== null) {
      const d = input.expires_in_days;
      if (typeof d !== 'number' || !Number.isInteger(d) || d < 1 || d > 3650) throw badRequest('invalid_expiry', 'expires_in_days must be an integer 1-3650');
      return new Date(now().getTime() + d * 86_400_000).toISOString();
    }
    if (input.expires_at === undefined || input.expires_at === null) return null;
    const t = typeof input.expires_at === 'string' && input.expires_at.length <= 40 ? Date.parse(input.expires_at) : NaN;
    if (!Number.isFinite(t) || t <= now().getTime()) throw badRequest('invalid_expiry', 'expires_at must be a future ISO date');
    return new Date(t).toISOString();
  }

  return {
    async create(creator, input) {
      const name = input.name;
      if (typeof name !== 'string' || !/^[\p{L}\p{N} ._-]{1,64}$/u.test(name) || !name.trim()) {
        throw badRequest('invalid_name', 'name is 1-64 letters, digits, spaces, . _ -');
      }
      const hasRole = input.role !== undefined && input.role !== null;
      const hasPerms = input.permissions !== undefined && input.permissions !== null;
      if (hasRole === hasPerms) throw badRequest('role_or_permissions', 'Give either role or permissions');
      let role: string | null = null;
      let perms: Permission[];
      if (hasRole) {
        if (typeof input.role !== 'string' || !(await deps.roles.exists(input.role))) throw badRequest('unknown_role', 'No such role');
        role = input.role;
        perms = [...(await deps.roles.permissionsOf(role))];
      } else {
        perms = parsePermissions(input.permissions);
        if (perms.length === 0) throw badRequest('invalid_permissions', 'A key needs at least one permission');
      }
      const exceeding = perms.filter((p) => !creator.permissions.has(p));
      if (exceeding.length) throw forbidden('exceeds_own_permissions', 'A key cannot have permissions its creator lacks');
      const expires = await expiry(input);
      const format = keyFormat(input.format);
      for (let attempt = 0; ; attempt++) {
        const prefix = crypto.randomBytes(4).toString('hex');
        const key = newKey(format, prefix);
        const res = await deps.db.run(
          'INSERT OR IGNORE INTO api_keys(name, prefix, hash, owner, role, permissions, created_at, expires_at) VALUES (?,?,?,?,?,?,?,?)',
          [name, prefix, sha256(key), creator.user, role, hasRole ? null : JSON.stringify(perms), now().toISOString(), expires],
        );
        if (res.changes === 1) {
          const row = await deps.db.get<Row>('SELECT * FROM api_keys WHERE id = ?', [res.lastID]);
          return { key, info: toInfo(row!) };
        }
        if (attempt > 5) throw new AppError('internal', 500, 'Could not allocate a key prefix');
      }
    },
    async list() {
      return (await deps.db.all<Row>('SELECT * FROM api_keys ORDER BY id')).map(toInfo);
    },
    async revoke(id) {
      if (!Number.isSafeInteger(id) || id < 1) throw notFound('API key');
      await deps.db.run('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [now().toISOString(), id]);
      const row = await deps.db.get<Row>('SELECT * FROM api_keys WHERE id = ?', [id]);
      if (!row) throw notFound('API key');
      for (const listener of revokeListeners) listener(id);
      return toInfo(row);
    },
    onRevoke(listener) {
      revokeListeners.push(listener);
    },
    async authenticate(bearer) {
      const m = KEY_RE.exec(bearer) ?? OCTOPRINT_KEY_RE.exec(bearer);
      if (!m) throw invalid();
      const row = await deps.db.get<Row>('SELECT * FROM api_keys WHERE prefix = ?', [m[1]!]);
      // Compare even when no row exists so timing does not reveal which prefixes exist.
      const stored = row?.hash ?? Buffer.alloc(32);
      const ok = crypto.timingSafeEqual(sha256(bearer), stored) && row !== undefined;
      if (!ok || row.revoked_at) throw invalid();
      const t = now();
      if (row.expires_at && Date.parse(row.expires_at) <= t.getTime()) throw invalid();
      if (!row.last_used_at || t.getTime() - Date.parse(row.last_used_at) >= TOUCH_MS) {
        await deps.db.run('UPDATE api_keys SET last_used_at = ? WHERE id = ?', [t.toISOString(), row.id]);
      }
      let permissions: Set<Permission>;
      if (row.role) {
        permissions = await deps.roles.permissionsOf(row.role);
      } else {
        permissions = new Set(JSON.parse(row.permissions ?? '[]') as Permission[]);
      }
      return {
        user: `${row.owner}/key:${row.prefix}`, method: 'apikey', role: row.role ?? 'custom', permissions,
        apiKey: { id: row.id, expiresAt: row.expires_at ? Date.parse(row.expires_at) : null },
      };
    },
  };
}
