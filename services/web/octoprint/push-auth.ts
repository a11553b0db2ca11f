/**
 * The session key of OctoPrint's push API. A client gets it from a passive `POST /api/login` (OctoPod
 * OctoPrintClient.swift websocketConnected, FDM Monster octoprint-websocket.adapter.ts
 * setupSocketSession) and sends `{"auth": "<user>:<session>"}` on the socket (OctoPrint 1.11
 * octoprint/server/util/sockjs.py on_message). OctoPrint's key is the user's login session; here it is a
 * random token of its own, valid for a few minutes, standing for the credential of that login request
 * (a session cookie, an API key or the machine itself) — never the cookie or the key. A socket
 * authenticated with it lives as long as that credential (sessions/bind-streams.ts).
 */
import crypto from 'node:crypto';
import type { Request } from 'express';
import type { WebDeps } from '../deps.ts';
import type { Principal } from '../permissions.ts';
import { principalForSession } from '../principal.ts';
import { bindStreamToSession, bindToApiKey } from '../sessions/bind-streams.ts';
import { authOf, sessionEndsAt } from '../sessions/cookie.ts';

/** Clients log in right before they authenticate a socket (and again on every reconnect). */
const TOKEN_TTL_MS = 5 * 60_000;
/** Outstanding keys are few (one per connecting client); the oldest goes first beyond this. */
const MAX_TOKENS = 256;
/** What the socket needs to receive anything but `connected` (OctoPrint: the STATUS permission). */
export const PUSH_ACCESS = 'printers.read' as const;

export interface PushGrant {
  principal: Principal;
  /** The principal now: null when the key was revoked or the session ended since the login. */
  current(): Promise<Principal | null>;
  /** Ties the socket to the credential; `end` is called once it is over. Returns the release function. */
  bind(end: () => void): () => void;
}

interface Issued { user: string; issuedAt: number; grant: PushGrant }

const stores = new WeakMap<WebDeps, Map<string, Issued>>();

const digest = (token: string) => crypto.createHash('sha256').update(token, 'utf8').digest('hex');

function tokens(deps: WebDeps): Map<string, Issued> {
  let m = stores.get(deps);
  if (!m) { m = new Map(); stores.set(deps, m); }
  const now = (deps.now ?? Date.now)();
  for (const [k, t] of m) if (now - t.issuedAt > TOKEN_TTL_MS) m.delete(k);
  return m;
}

/** How a socket follows the credential the login request used. */
function grantFor(req: Request, principal: Principal, deps: WebDeps): PushGrant {
  if (principal.method === 'apikey') {
    const header = req.headers['x-api-key'];
    const key = typeof header === 'string' ? header : /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    const current = async () => (key && deps.apiKeys ? deps.apiKeys.authenticate(key).catch(() => null) : null);
    return { principal, current, bind: (end) => bindToApiKey(key, principal, deps, PUSH_ACCESS, end) };
  }
  // A session is re-checked through the login request it came with (its session id and cookie data).
  if (principal.method === 'local') return { principal, current: () => Promise.resolve(principal), bind: () => () => undefined };
  const sid = req.sessionID;
  const current = async () => {
    const data = await new Promise<unknown>((resolve) => deps.sessionStore.get(sid, (err, d) => resolve(err ? undefined : d)));
    const auth = authOf(data);
    if (!auth || (deps.now ?? Date.now)() > sessionEndsAt(auth, deps.config)) return null;
    return principalForSession(auth, deps);
  };
  return { principal, current, bind: (end) => bindStreamToSession(req, deps, PUSH_ACCESS, end) };
}

/** A new session key for the caller of a passive login; the key contains no ':' (the auth message splits on it). */
export function issuePushSession(req: Request, principal: Principal, deps: WebDeps): string {
  const m = tokens(deps);
  while (m.size >= MAX_TOKENS) m.delete(m.keys().next().value!);
  const token = crypto.randomBytes(24).toString('base64url');
  m.set(digest(token), { user: principal.user, issuedAt: (deps.now ?? Date.now)(), grant: grantFor(req, principal, deps) });
  return token;
}

/**
 * The grant for `{"auth": "<user>:<session>"}`, or undefined. Looked up by the key's SHA-256, so no
 * token is compared character by character; the user must be the one the key was issued to.
 */
export function redeemPushSession(deps: WebDeps, auth: unknown): PushGrant | undefined {
  if (typeof auth !== 'string' || auth.length > 600) return undefined;
  // split at the last ':': a key's user name has one ("local/key:d34ef2c5"), the session key never does
  const at = auth.lastIndexOf(':');
  if (at < 0) return undefined;
  const issued = tokens(deps).get(digest(auth.slice(at + 1)));
  return issued && issued.user === auth.slice(0, at) ? issued.grant : undefined;
}
