/**
 * Audit log: admins page through it as JSON or download it as CSV/JSON.
 */
import { badRequest } from '../../shared/errors.ts';
import type { WebDeps } from '../deps.ts';
import type { Route } from '../route-types.ts';
import type { AuditQuery } from '../security/audit.ts';
import { sec } from '../security/http.ts';

const KNOWN = new Set(['limit', 'before', 'action', 'actor']);

function query(q: Record<string, unknown>, maxLimit: number): AuditQuery {
  const unknown = Object.keys(q).filter((k) => !KNOWN.has(k));
  if (unknown.length) throw badRequest('invalid_query', `Unknown query parameter ${unknown[0]!.slice(0, 40)}`);
  const out: AuditQuery = {};
  const int = (name: string, max: number) => {
    const v = q[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !/^[1-9]\d{0,8}$/.test(v) || Number(v) > max) throw badRequest('invalid_query', `${name} must be an integer 1-${max}`);
    return Number(v);
  };
  const str = (name: string) => {
    const v = q[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.length > 256) throw badRequest('invalid_query', `${name} must be a short string`);
    return v;
  };
  const limit = int('limit', maxLimit); if (limit) out.limit = limit;
  const before = int('before', 999_999_999); if (before) out.beforeId = before;
  const action = str('action'); if (action) out.action = action;
  const actor = str('actor'); if (actor) out.actor = actor;
  return out;
}

export const auditRoutes: Route<WebDeps>[] = [
  {
    method: 'get', path: '/audit', access: 'audit.read',
    handler: async ({ req, deps }) => sec(deps).audit.list(query(req.query as Record<string, unknown>, 1000)),
  },
  {
    method: 'get', path: '/audit/export', access: 'audit.read', raw: true,
    handler: async ({ req, res, deps }) => {
      const { format = 'json', ...rest } = req.query as Record<string, unknown>;
      if (format !== 'json' && format !== 'csv') throw badRequest('invalid_query', 'format is json or csv');
      const rows = await sec(deps).audit.list({ limit: 10_000, ...query(rest, 10_000) });
      const stamp = new Date().toISOString().slice(0, 10);
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('Content-Disposition', `attachment; filename="printbox-audit-${stamp}.${format}"`);
      if (format === 'csv') res.type('text/csv; charset=utf-8').send(sec(deps).audit.toCsv(rows));
      else res.type('application/json').send(JSON.stringify(rows, null, 1));
    },
  },
];
