/**
 * The "cloud link" screen's API (CONTRACT.md "HTTP API"): state, link with email+password or a
 * link token, offline mode, unlink. The use cases live in shared/link/service.ts (shared with the
 * `printbox` CLI and printbox-firstboot); these handlers only validate input and map errors.
 */
import { AppError, badRequest } from '../../shared/errors.ts';
import type { LinkCredentials } from '../../shared/cloud-client.ts';
import type { CloudLink } from '../../shared/link/service.ts';
import type { WebDeps } from '../deps.ts';
import type { Route } from '../route-types.ts';

function service(deps: WebDeps): CloudLink {
  if (!deps.cloud) throw new AppError('cloud_unavailable', 503, 'Cloud linking is not available on this device');
  return deps.cloud;
}

const str = (v: unknown, max: number): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;

function credentials(body: unknown): LinkCredentials {
  const b = (body ?? {}) as Record<string, unknown>;
  const hasToken = b.link_token !== undefined;
  const hasPassword = b.email !== undefined || b.password !== undefined;
  if (hasToken && hasPassword) throw badRequest('invalid_request', 'Send either email and password, or link_token — not both');
  if (hasToken) {
    if (!str(b.link_token, 512)) throw badRequest('invalid_request', 'link_token must be a non-empty string');
    return { link_token: b.link_token.trim() };
  }
  if (!str(b.email, 254) || !/^[^\s@]+@[^\s@]+$/.test(b.email.trim())) throw badRequest('invalid_request', 'A valid email is required');
  if (!str(b.password, 1024)) throw badRequest('invalid_request', 'A password is required');
  return { email: b.email.trim(), password: b.password };
}

/** A wrong cloud password is a 400 here: 401 would read as "your PrintBox session ended" to the UI. */
async function mapCloud<T>(p: Promise<T>): Promise<T> {
  try { return await p; } catch (e) {
    if (e instanceof AppError && e.code === 'cloud_rejected') throw new AppError('cloud_rejected', 400, `The cloud refused: ${e.message}`);
    throw e;
  }
}

export const cloudRoutes: Route<WebDeps>[] = [
  { method: 'get', path: '/cloud', access: 'cloud.read', handler: ({ deps }) => service(deps).status() },
  {
    method: 'post', path: '/cloud/link', access: 'cloud.manage',
    handler: ({ deps, req }) => mapCloud(service(deps).link(credentials(req.body))),
  },
  { method: 'post', path: '/cloud/offline', access: 'cloud.manage', handler: ({ deps }) => service(deps).goOffline() },
  { method: 'delete', path: '/cloud/link', access: 'cloud.manage', handler: ({ deps }) => service(deps).unlink() },
];
