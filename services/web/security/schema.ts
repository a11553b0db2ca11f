/**
 * SQLite tables of the account-security area (roles, API keys, TOTP, session side table, audit log).
 * Kept as idempotent CREATE … IF NOT EXISTS rather than entries in the web service's ordered
 * migration list: the security area can then be initialised on whatever printbox.db the web core
 * opens, without the two areas fighting over `PRAGMA user_version` numbering. A future change to
 * these tables gets its own step keyed in `security_meta` (version row), not an edit of this SQL.
 */
import type { Db } from '../../shared/db.ts';

export const SECURITY_SCHEMA_VERSION = 1;

const SQL = `
CREATE TABLE IF NOT EXISTS security_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS custom_roles (
  name TEXT PRIMARY KEY,
  permissions TEXT NOT NULL,            -- JSON array of Permission
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS user_roles (  -- explicit per-user role; wins over the PAM group map
  username TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS known_users ( -- who has signed in (admins pick users to assign roles)
  username TEXT PRIMARY KEY,
  method TEXT NOT NULL,
  last_login_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  prefix TEXT NOT NULL UNIQUE,           -- visible part, also the lookup key
  hash BLOB NOT NULL,                    -- sha256 of the whole key; the key itself is never stored
  owner TEXT NOT NULL,
  role TEXT,                             -- either a role …
  permissions TEXT,                      -- … or a JSON permission subset
  created_at TEXT NOT NULL,
  expires_at TEXT,
  last_used_at TEXT,
  revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS totp (
  username TEXT PRIMARY KEY,
  secret_enc BLOB NOT NULL,              -- AES-256-GCM(iv|tag|ciphertext) under the device key
  confirmed_at TEXT,
  last_step INTEGER NOT NULL DEFAULT 0,  -- highest accepted time step: a code is never accepted twice
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS recovery_codes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username TEXT NOT NULL,
  hash BLOB NOT NULL,
  used_at TEXT
);
CREATE INDEX IF NOT EXISTS recovery_codes_user ON recovery_codes(username);
CREATE TABLE IF NOT EXISTS user_sessions (
  id TEXT PRIMARY KEY,                   -- opaque id shown to users; the session id itself never leaves the server
  sid TEXT NOT NULL UNIQUE,
  username TEXT NOT NULL,
  method TEXT NOT NULL,
  ip TEXT NOT NULL,
  user_agent TEXT NOT NULL,
  created_at TEXT NOT NULL,
  last_activity TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS user_sessions_user ON user_sessions(username);
CREATE TABLE IF NOT EXISTS audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ts TEXT NOT NULL,
  actor TEXT NOT NULL,
  method TEXT NOT NULL,                  -- pam|cloud|local|apikey|anonymous|system
  ip TEXT NOT NULL,
  action TEXT NOT NULL,                  -- e.g. auth.login, auth.lockout, cloud.link, printer.command
  target TEXT NOT NULL,
  outcome TEXT NOT NULL,                 -- success|failure|denied
  details TEXT NOT NULL                  -- JSON, scrubbed of secrets
);
CREATE INDEX IF NOT EXISTS audit_log_ts ON audit_log(ts);
`;

export async function ensureSecuritySchema(db: Db): Promise<void> {
  await db.exec(SQL);
  await db.run(`INSERT OR IGNORE INTO security_meta(key, value) VALUES ('schema_version', ?)`, [String(SECURITY_SCHEMA_VERSION)]);
}

/** Settings admins change at runtime (e.g. enforce 2FA); stored beside the schema version. */
export async function getSetting(db: Db, key: string): Promise<string | undefined> {
  const row = await db.get<{ value: string }>('SELECT value FROM security_meta WHERE key = ?', [key]);
  return row?.value;
}

export async function setSetting(db: Db, key: string, value: string): Promise<void> {
  await db.run('INSERT INTO security_meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value', [key, value]);
}
