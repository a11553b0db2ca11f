/** Shared fixtures for the security unit tests: a real SQLite file in a fresh temp dir. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDb, type Db } from '../../services/shared/db.ts';
import { ensureSecuritySchema } from '../../services/web/security/schema.ts';

export async function tempDb(): Promise<{ db: Db; dir: string; cleanup: () => Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-sec-'));
  const db = await openDb(path.join(dir, 'printbox.db'), []);
  await ensureSecuritySchema(db);
  return { db, dir, cleanup: async () => { await db.close(); fs.rmSync(dir, { recursive: true, force: true }); } };
}

/** A clock tests can move. */
export function clock(start = Date.parse('2026-01-01T00:00:00Z')) {
  let t = start;
  return { now: () => new Date(t), advance: (ms: number) => { t += ms; }, ms: () => t };
}
