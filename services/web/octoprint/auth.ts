/**
 * Who is asking on the OctoPrint-compatible API. OctoPrint clients send their key as `X-Api-Key`
 * (PrusaSlicer src/slic3r/Utils/OctoPrint.cpp set_auth, Cura-OctoPrintPlugin _createEmptyRequest,
 * pyoctoprintapi api.py set_api_key); it is a PrintBox API key, checked like `Authorization: Bearer`.
 * The session cookie, a Bearer key and the machine itself work as on /api. OctoPrint (1.11,
 * octoprint/server/__init__.py load_user_from_request) treats a missing or unknown key as the anonymous
 * user, who lacks every permission: 403, never 401. Its `?apikey=` query parameter (and the other names
 * /api refuses, security/index.ts) is refused with 401, deliberately: keys in URLs end up in logs and
 * browser history.
 */
import type { Request } from 'express';
import { AppError } from '../../shared/errors.ts';
import type { Permission } from '../../shared/permissions.ts';
import type { WebDeps } from '../deps.ts';
import type { MountOptions } from '../mount.ts';
import type { Principal } from '../permissions.ts';
import { resolvePrincipal } from '../principal.ts';
import { CREDENTIAL_QUERY_PARAMS } from '../security/index.ts';

const NO_KEY = 'Missing or invalid API key: send a PrintBox API key in the X-Api-Key header';

async function principalOf(req: Request, deps: WebDeps): Promise<Principal | null> {
  if (Object.keys(req.query).some((k) => CREDENTIAL_QUERY_PARAMS.includes(k.toLowerCase()))) {
    throw new AppError('credentials_in_query', 401, 'PrintBox does not accept API keys in the URL (?apikey=), because URLs end up in logs; send the key in the X-Api-Key header');
  }
  const key = req.headers['x-api-key'];
  if (key === undefined) return resolvePrincipal(req, deps);
  if (typeof key !== 'string' || !/^[\x21-\x7e]{1,512}$/.test(key) || !deps.apiKeys) throw new AppError('invalid_api_key', 403, NO_KEY);
  try {
    return await deps.apiKeys.authenticate(key);
  } catch (e) {
    if (e instanceof AppError && e.status === 401) throw new AppError('invalid_api_key', 403, NO_KEY);
    throw e;
  }
}

export const octoprintMount: MountOptions = {
  principal: principalOf,
  anonymous: () => new AppError('forbidden', 403, NO_KEY),
  auditPrefix: '/octoprint',
};

/** OctoPrint answers every API error as {"error": "<message>"} (octoprint/server/util/flask.py make_api_error). */
export const octoprintErrorBody = (e: AppError): unknown => ({ error: e.message });

/** OctoPrint's permission keys (octoprint/access/permissions.py) each PrintBox permission grants. */
const OCTOPRINT_KEYS: Partial<Record<Permission, readonly string[]>> = {
  'printers.read': ['STATUS', 'CONNECTION', 'MONITOR_TERMINAL'],
  'printers.control': ['CONTROL', 'CONNECTION'],
  'files.read': ['FILES_LIST'],
  'files.write': ['FILES_UPLOAD', 'FILES_DELETE'],
  'jobs.read': ['STATUS'],
  'jobs.control': ['PRINT', 'FILES_SELECT'],
  'settings.read': ['SETTINGS_READ'],
  'settings.manage': ['SETTINGS'],
  'users.manage': ['ADMIN'],
};

/** OctoPrint's permission list as the push API's `connected` message carries it (Permission.as_dict), for the keys PrintBox grants. */
export const OCTOPRINT_PERMISSIONS = [...new Set(Object.values(OCTOPRINT_KEYS).flat())].sort().map((key) => ({
  key, name: key.charAt(0) + key.slice(1).toLowerCase().replace(/_/g, ' '), dangerous: key === 'ADMIN' || key === 'SETTINGS',
  default_groups: [], description: '', needs: { role: [key.toLowerCase()] },
}));

/** The user as GET /api/currentuser and a passive POST /api/login describe it (anonymous: no name, nothing allowed). */
export function octoprintUser(p: Principal | null): { name: string | null; permissions: string[]; groups: string[] } {
  if (!p) return { name: null, permissions: [], groups: ['guests'] };
  const keys = new Set([...p.permissions].flatMap((perm) => OCTOPRINT_KEYS[perm] ?? []));
  return { name: p.user, permissions: [...keys].sort(), groups: [p.role] };
}
