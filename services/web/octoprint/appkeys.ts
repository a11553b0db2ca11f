/**
 * OctoPrint's Application Keys workflow (docs.octoprint.org "Application Keys" plugin, 1.11): an app
 * asks for a key without one, a user allows or denies it, the app polls until it gets the key. Home
 * Assistant's config flow obtains its key only this way (pyoctoprintapi request_app_key: probe,
 * request, poll every second). Here a PrintBox user with apikeys.manage decides (GET/POST
 * /api/octoprint/appkeys), and "allow" creates an ordinary PrintBox API key with the `api` role, owned
 * by that user. Requests live in the web's memory only, are few and short-lived: the request routes
 * need no credentials, so they must not let a stranger fill the memory.
 */
import crypto from 'node:crypto';
import { AppError, badRequest } from '../../shared/errors.ts';
import type { WebDeps } from '../deps.ts';
import type { Principal } from '../permissions.ts';
import type { Route } from '../route-types.ts';
import { sec } from '../security/http.ts';
import { on, type Ctx } from './state.ts';

const MAX_PENDING = 16;
/** OctoPrint drops a request not polled for 5 s; a little more slack for a busy Home Assistant. */
const POLL_TIMEOUT_MS = 30_000;
/** However often it is polled, a request nobody answers ends. */
const MAX_AGE_MS = 10 * 60_000;

interface AppKeyRequest {
  /** Shown to the user who decides; not the token, which alone fetches the key. */
  id: string;
  app: string;
  user: string | null;
  printer: string;
  /** Where the request came from: the one hint against a stranger's request posing as a known app. */
  address: string;
  requestedAt: number;
  polledAt: number;
  decision?: { key: string } | 'denied';
}

const stores = new WeakMap<WebDeps, Map<string, AppKeyRequest>>();

function requests(deps: WebDeps): Map<string, AppKeyRequest> {
  let m = stores.get(deps);
  if (!m) { m = new Map(); stores.set(deps, m); }
  const now = Date.now();
  for (const [token, r] of m) if (now - r.polledAt > POLL_TIMEOUT_MS || now - r.requestedAt > MAX_AGE_MS) m.delete(token);
  return m;
}

/** What the deciding user sees: who asks, for which printer, since when. */
export function pendingAppKeys(deps: WebDeps) {
  return [...requests(deps).values()].filter((r) => !r.decision)
    .map((r) => ({ id: r.id, app: r.app, user: r.user, printer: r.printer, address: r.address, requested_at: new Date(r.requestedAt).toISOString() }));
}

/** A key name PrintBox accepts (1-64 letters, digits, spaces, . _ -) from whatever the app calls itself. */
const keyName = (app: string) => `${app.replace(/[^\p{L}\p{N} ._-]/gu, '').trim().slice(0, 40) || 'App'} - OctoPrint app key`;

export async function decideAppKey(deps: WebDeps, principal: Principal, id: string, allow: boolean): Promise<void> {
  const r = [...requests(deps).values()].find((x) => x.id === id && !x.decision);
  if (!r) throw new AppError('not_found', 404, 'No such pending app key request (it may have timed out)');
  if (!allow) { r.decision = 'denied'; return; }
  // only OctoPrint clients fetch these keys, and some accept only OctoPrint's key length
  const { key } = await sec(deps).apiKeys.create(principal, { name: keyName(r.app), role: 'api', format: 'octoprint' });
  r.decision = { key };
}

/** The peer as people write it: an IPv4 client on the dual-stack socket arrives as ::ffff:a.b.c.d. */
const shownAddress = (a: string | undefined) => (a ?? 'unknown').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');

function request(ctx: Ctx, printer: string) {
  const body = (ctx.req.body ?? {}) as { app?: unknown; user?: unknown };
  if (typeof body.app !== 'string' || !body.app.trim()) throw badRequest('bad_request', 'No app name provided');
  if (body.app.length > 100 || (body.user !== undefined && body.user !== null && (typeof body.user !== 'string' || body.user.length > 100))) throw badRequest('bad_request', 'app or user too long');
  const pending = requests(ctx.deps);
  if (pending.size >= MAX_PENDING) throw new AppError('too_many_requests', 429, 'Too many app key requests are waiting; try again in a minute');
  const token = crypto.randomBytes(24).toString('base64url');
  const now = Date.now();
  pending.set(token, { id: crypto.randomBytes(6).toString('hex'), app: body.app.trim(), user: typeof body.user === 'string' ? body.user : null, printer, address: shownAddress(ctx.req.socket.remoteAddress), requestedAt: now, polledAt: now });
  ctx.res.setHeader('Location', `https://${ctx.req.headers.host ?? 'localhost'}/octoprint/${encodeURIComponent(printer)}/plugin/appkeys/request/${token}`);
  return { app_token: token, auth_dialog: `https://${ctx.req.headers.host ?? 'localhost'}/#/settings` };
}

/** 202 while undecided, 200 {"api_key"} once when allowed, 404 when denied, unknown or timed out. */
function poll(ctx: Ctx): void {
  const token = String(ctx.req.params.token);
  const pending = requests(ctx.deps);
  const r = pending.get(token);
  if (!r || r.decision === 'denied') {
    if (r) pending.delete(token);
    throw new AppError('not_found', 404, 'Unknown, denied or timed out app key request');
  }
  r.polledAt = Date.now();
  if (!r.decision) { ctx.res.status(202).json({ message: 'Awaiting decision' }); return; }
  pending.delete(token);
  ctx.res.setHeader('Cache-Control', 'no-store');
  ctx.res.status(200).json({ api_key: r.decision.key });
}

const A = '/:printer/plugin/appkeys';

export const appKeyRoutes: Route<WebDeps>[] = [
  { method: 'get', path: `${A}/probe`, access: 'public', handler: on(() => undefined) },
  { method: 'post', path: `${A}/request`, access: 'public', status: 201, handler: on((ctx, p) => request(ctx, p.id)) },
  // raw: the status (202 or 200) depends on the decision
  { method: 'get', path: `${A}/request/:token`, access: 'public', raw: true, handler: on(poll) },
];
