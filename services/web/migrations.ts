/**
 * Ordered migrations of printbox.db owned by the web core (PRAGMA user_version). Append only; never
 * edit a released entry. Sessions live in the `sessions` table that connect-sqlite3 creates itself;
 * areas with their own tables may instead use idempotent CREATE … IF NOT EXISTS (security/schema.ts).
 */
export const WEB_MIGRATIONS: string[] = [
  `CREATE TABLE IF NOT EXISTS web_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
];
