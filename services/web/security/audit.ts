/**
 * Audit log: who did what, from where, with what outcome. Admins view and export it;
 * it must never hold a secret, so `details` passes through scrub() which drops any key that looks
 * like a credential and truncates long strings (a pasted password in a username field stays short).
 */
import type { Db } from '../../shared/db.ts';

export type AuditOutcome = 'success' | 'failure' | 'denied';

export interface AuditEntry {
  actor: string;
  method: string;
  ip: string;
  action: string;
  target?: string;
  outcome: AuditOutcome;
  details?: Record<string, unknown>;
}

export interface AuditRow extends Required<Omit<AuditEntry, 'details'>> {
  id: number;
  ts: string;
  details: Record<string, unknown>;
}

export interface AuditQuery { limit?: number; beforeId?: number; action?: string; actor?: string }

/** Field names that hold credentials, as a whole word or a `_suffix` (device_token, new_password) — but not
 *  `gcode`, which is exactly what the audit of printer commands must keep. */
const SECRET_KEY = /(^|_|-)(psk|pass(word|wd|phrase)?|secrets?|tokens?|totp|otp|codes?|keys?|cookies?|authorization|sessions?|sid)$/i;
const MAX_STR = 200;
/** Rows kept; older ones are pruned so a flood of failed logins cannot fill the SD card. */
export const AUDIT_KEEP = 50_000;

export function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.length > MAX_STR ? value.slice(0, MAX_STR) + '…' : value;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return value;
  if (depth > 3) return '[nested]';
  if (Array.isArray(value)) return value.slice(0, 20).map((v) => scrub(v, depth + 1));
  if (typeof value === 'object' && value) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? '[redacted]' : scrub(v, depth + 1);
    return out;
  }
  return undefined;
}

const clip = (s: string | undefined, n = MAX_STR) => (s ?? '').slice(0, n);

export interface AuditLog {
  record(e: AuditEntry): Promise<void>;
  list(q?: AuditQuery): Promise<AuditRow[]>;
  toCsv(rows: AuditRow[]): string;
}

export function createAuditLog(deps: { db: Db; now?: () => Date }): AuditLog {
  const now = deps.now ?? (() => new Date());
  let writes = 0;
  return {
    async record(e) {
      const details = JSON.stringify(scrub(e.details ?? {}));
      await deps.db.run(
        'INSERT INTO audit_log(ts, actor, method, ip, action, target, outcome, details) VALUES (?,?,?,?,?,?,?,?)',
        [now().toISOString(), clip(e.actor), clip(e.method, 20), clip(e.ip, 64), clip(e.action, 64), clip(e.target), e.outcome, details],
      );
      if (++writes % 500 === 0) {
        await deps.db.run('DELETE FROM audit_log WHERE id <= (SELECT MAX(id) FROM audit_log) - ?', [AUDIT_KEEP]);
      }
    },
    async list(q = {}) {
      const where: string[] = [];
      const params: (string | number)[] = [];
      if (q.beforeId) { where.push('id < ?'); params.push(q.beforeId); }
      if (q.action) { where.push('action = ?'); params.push(q.action); }
      if (q.actor) { where.push('actor = ?'); params.push(q.actor); }
      const limit = Math.min(Math.max(q.limit ?? 100, 1), 10_000);
      const rows = await deps.db.all<Omit<AuditRow, 'details'> & { details: string }>(
        `SELECT * FROM audit_log ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ${limit}`, params,
      );
      return rows.map((r) => ({ ...r, details: JSON.parse(r.details) as Record<string, unknown> }));
    },
    toCsv(rows) {
      const head = ['id', 'ts', 'actor', 'method', 'ip', 'action', 'target', 'outcome', 'details'];
      const lines = rows.map((r) => [r.id, r.ts, r.actor, r.method, r.ip, r.action, r.target, r.outcome, JSON.stringify(r.details)].map(csvCell).join(','));
      return [head.join(','), ...lines].join('\r\n') + '\r\n';
    },
  };
}

/** RFC 4180 quoting plus a leading ' on cells a spreadsheet would run as a formula (CSV injection). */
export function csvCell(v: unknown): string {
  let s = String(v ?? '');
  if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
  return /[",\r\n']/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}
