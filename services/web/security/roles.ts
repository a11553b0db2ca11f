/**
 * Roles: built-in admin/operator/viewer/api, custom roles made from the permission list,
 * explicit per-user assignments, and the PAM-group → role map (PRINTBOX_ROLE_MAP). The cloud owner
 * is always admin. Resolution order for a PAM user: explicit assignment, then the first group in
 * the map the user belongs to, then `defaultRole` (viewer: least privilege for an allowed account
 * nobody classified).
 */
import type { Db } from '../../shared/db.ts';
import { badRequest, conflict, notFound } from '../../shared/errors.ts';
import { BUILTIN_ROLES, PERMISSIONS, type Permission } from '../../shared/permissions.ts';

export interface RoleMapEntry { group: string; role: string }

const NAME = /^[a-z][a-z0-9_-]{0,31}$/;

/** Parses "printbox-admins:admin,printbox:operator"; throws with a readable message (config validation). */
export function parseRoleMap(raw: string): RoleMapEntry[] {
  return raw.split(',').map((s) => s.trim()).filter(Boolean).map((pair) => {
    const m = /^([^:\s]+):([^:\s]+)$/.exec(pair);
    if (!m) throw new Error(`expected group:role pairs separated by commas, got "${pair}"`);
    return { group: m[1]!, role: m[2]! };
  });
}

export const isPermission = (p: unknown): p is Permission => typeof p === 'string' && (PERMISSIONS as readonly string[]).includes(p);

/** Validates a permission list from user input; duplicates removed, unknown names refused. */
export function parsePermissions(input: unknown): Permission[] {
  if (!Array.isArray(input) || input.length > PERMISSIONS.length * 2) throw badRequest('invalid_permissions', 'permissions must be a list of permission names');
  const bad = input.filter((p) => !isPermission(p));
  if (bad.length) throw badRequest('invalid_permissions', `Unknown permission(s): ${bad.map(String).slice(0, 5).join(', ').slice(0, 200)}`);
  return [...new Set(input as Permission[])];
}

export interface RoleInfo { name: string; builtin: boolean; permissions: Permission[] }

export interface RoleServiceDeps {
  db: Db;
  roleMap: RoleMapEntry[];
  defaultRole?: string;
  /** Called when a user's role changes so their sessions end. */
  onUserRoleChanged?: (username: string) => Promise<void>;
  /** Called when a custom role's permissions change: they apply at once, also to open event streams. */
  onPermissionsChanged?: () => void;
  now?: () => Date;
}

export interface RoleService {
  list(): Promise<RoleInfo[]>;
  permissionsOf(role: string): Promise<Set<Permission>>;
  exists(role: string): Promise<boolean>;
  createCustom(name: unknown, permissions: unknown): Promise<RoleInfo>;
  /** Replaces a custom role's permissions; they apply on the next request of everyone holding it. */
  updateCustom(name: string, permissions: unknown): Promise<RoleInfo>;
  deleteCustom(name: string): Promise<void>;
  /** The role a signed-in account has right now. */
  roleFor(user: { username: string; method: 'pam' | 'cloud' | 'local'; groups?: readonly string[] }): Promise<string>;
  setUserRole(username: string, role: string | null): Promise<void>;
  assignments(): Promise<Array<{ username: string; role: string; updated_at: string }>>;
}

export function createRoleService(deps: RoleServiceDeps): RoleService {
  const now = deps.now ?? (() => new Date());
  const defaultRole = deps.defaultRole ?? 'viewer';
  const custom = async (name: string) => {
    const row = await deps.db.get<{ permissions: string }>('SELECT permissions FROM custom_roles WHERE name = ?', [name]);
    return row ? (JSON.parse(row.permissions) as string[]).filter(isPermission) : undefined;
  };
  const svc: RoleService = {
    async list() {
      const rows = await deps.db.all<{ name: string; permissions: string }>('SELECT name, permissions FROM custom_roles ORDER BY name');
      return [
        ...Object.entries(BUILTIN_ROLES).map(([name, p]) => ({ name, builtin: true, permissions: [...p] })),
        ...rows.map((r) => ({ name: r.name, builtin: false, permissions: (JSON.parse(r.permissions) as string[]).filter(isPermission) })),
      ];
    },
    async permissionsOf(role) {
      const builtin = Object.hasOwn(BUILTIN_ROLES, role) ? BUILTIN_ROLES[role] : undefined;
      return new Set(builtin ?? (await custom(role)) ?? []);
    },
    async exists(role) {
      return Object.hasOwn(BUILTIN_ROLES, role) || (await custom(role)) !== undefined;
    },
    async createCustom(name, permissions) {
      if (typeof name !== 'string' || !NAME.test(name)) throw badRequest('invalid_role_name', 'Role names are 1-32 characters: a-z, 0-9, _ and -, starting with a letter');
      if (Object.hasOwn(BUILTIN_ROLES, name)) throw conflict('role_exists', 'A built-in role has that name');
      const perms = parsePermissions(permissions);
      const res = await deps.db.run('INSERT OR IGNORE INTO custom_roles(name, permissions, created_at) VALUES (?,?,?)', [name, JSON.stringify(perms), now().toISOString()]);
      if (res.changes === 0) throw conflict('role_exists', 'A role with that name exists');
      return { name, builtin: false, permissions: perms };
    },
    async updateCustom(name, permissions) {
      if (Object.hasOwn(BUILTIN_ROLES, name)) throw badRequest('builtin_role', 'Built-in roles cannot be changed');
      const perms = parsePermissions(permissions);
      const res = await deps.db.run('UPDATE custom_roles SET permissions = ? WHERE name = ?', [JSON.stringify(perms), name]);
      if (res.changes === 0) throw notFound('Role');
      deps.onPermissionsChanged?.();
      return { name, builtin: false, permissions: perms };
    },
    async deleteCustom(name) {
      if (Object.hasOwn(BUILTIN_ROLES, name)) throw badRequest('builtin_role', 'Built-in roles cannot be deleted');
      const used = await deps.db.get('SELECT 1 FROM user_roles WHERE role = ?', [name]);
      const usedByKey = await deps.db.get('SELECT 1 FROM api_keys WHERE role = ? AND revoked_at IS NULL', [name]);
      if (used || usedByKey || deps.roleMap.some((m) => m.role === name)) throw conflict('role_in_use', 'The role is assigned to a user, an API key or a PAM group');
      const res = await deps.db.run('DELETE FROM custom_roles WHERE name = ?', [name]);
      if (res.changes === 0) throw notFound('Role');
    },
    async roleFor(user) {
      if (user.method === 'local') return 'admin'; // the machine itself (console, CLI) — CONTRACT "local"
      if (user.method === 'cloud') return 'admin'; // the cloud owner is admin
      const row = await deps.db.get<{ role: string }>('SELECT role FROM user_roles WHERE username = ?', [user.username]);
      if (row && (await svc.exists(row.role))) return row.role;
      const groups = new Set(user.groups ?? []);
      return deps.roleMap.find((m) => groups.has(m.group))?.role ?? defaultRole;
    },
    async setUserRole(username, role) {
      if (typeof username !== 'string' || !username || username.length > 256) throw badRequest('invalid_username', 'username is required');
      if (role === null) {
        await deps.db.run('DELETE FROM user_roles WHERE username = ?', [username]);
      } else {
        if (typeof role !== 'string' || !(await svc.exists(role))) throw badRequest('unknown_role', 'No such role');
        await deps.db.run('INSERT INTO user_roles(username, role, updated_at) VALUES (?,?,?) ON CONFLICT(username) DO UPDATE SET role = excluded.role, updated_at = excluded.updated_at',
          [username, role, now().toISOString()]);
      }
      await deps.onUserRoleChanged?.(username);
    },
    assignments: () => deps.db.all('SELECT username, role, updated_at FROM user_roles ORDER BY username'),
  };
  return svc;
}
