/**
 * Permissions and built-in roles. Every route in the web's route table declares one permission
 * (or 'public' / 'authenticated'); roles are sets of permissions (admins add custom roles).
 * No Node imports: the UI bundle uses it too, to show what a role may do.
 */
export const PERMISSIONS = [
  'printers.read',     // list printers, temperatures, terminal log
  'printers.control',  // terminal commands, emergency stop
  'files.read',
  'files.write',       // upload, delete
  'jobs.read',
  'jobs.control',      // start, pause, resume, cancel
  'cloud.read',
  'cloud.manage',      // link, unlink, offline
  'settings.read',
  'settings.manage',
  'system.read',       // systeminformation, journal excerpts
  'system.manage',     // Wi-Fi, hostname, timezone, reboot, power off
  'users.manage',      // roles, other users' sessions, 2FA enforcement
  'apikeys.manage',
  'audit.read',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const BUILTIN_ROLES: Record<string, readonly Permission[]> = {
  admin: PERMISSIONS,
  operator: ['printers.read', 'printers.control', 'files.read', 'files.write', 'jobs.read', 'jobs.control', 'cloud.read', 'settings.read', 'system.read'],
  viewer: ['printers.read', 'files.read', 'jobs.read', 'cloud.read', 'settings.read', 'system.read'],
  api: ['printers.read', 'printers.control', 'files.read', 'files.write', 'jobs.read', 'jobs.control'],
};

export const permissionsOf = (role: string): Set<Permission> => new Set(BUILTIN_ROLES[role] ?? []);
