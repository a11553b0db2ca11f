/**
 * Sessions: express-session with the SQLite store in the data dir; cookie Secure,
 * HttpOnly, SameSite=Strict; rolling idle timeout and an absolute lifetime, both enforced on the
 * server (the cookie's own expiry is only a hint to the browser).
 */
import type { Request, RequestHandler } from 'express';
import session, { type Session } from 'express-session';
import type { Store } from 'express-session';
import type { WebConfig } from '../config.ts';

export const SESSION_COOKIE = 'printbox.sid';

/** What a signed-in session holds. Never a password. */
export interface SessionAuth {
  user: string;
  method: 'pam' | 'cloud';
  role: string;
  groups?: string[];
  /** PAM only: the auth helper's account stamp at login (AuthApi 'account.stamp'); a change ends the session. */
  accountStamp?: string;
  createdAt: number;
  lastSeen: number;
}

type WithAuth = Session & { auth?: SessionAuth };

export function sessionMiddleware(deps: { config: WebConfig; sessionStore: Store; sessionSecret: string }): RequestHandler {
  return session({
    name: SESSION_COOKIE,
    secret: deps.sessionSecret,
    store: deps.sessionStore,
    resave: false,
    saveUninitialized: false, // no cookie and no row for anonymous visitors
    rolling: true,
    cookie: { secure: true, httpOnly: true, sameSite: 'strict', path: '/', maxAge: Math.round(deps.config.sessionIdleMin * 60_000) },
  });
}

export const limits = (config: WebConfig) => ({
  idleMs: config.sessionIdleMin * 60_000,
  maxMs: config.sessionMaxH * 3600_000,
});

/** When a session ends unless it is used again: its idle or its absolute limit, whichever comes first. */
export function sessionEndsAt(auth: Pick<SessionAuth, 'createdAt' | 'lastSeen'>, config: WebConfig): number {
  const { idleMs, maxMs } = limits(config);
  return Math.min(auth.lastSeen + idleMs, auth.createdAt + maxMs);
}

/** The signed-in part of a stored session (SessionData as express-session keeps it). */
export const authOf = (data: unknown): SessionAuth | undefined => (data as { auth?: SessionAuth } | null | undefined)?.auth;

/** The signed-in user of this request, or undefined; ends sessions past their idle or absolute limit. */
export async function currentAuth(req: Request, deps: { config: WebConfig; now?: () => number }): Promise<SessionAuth | undefined> {
  const s = req.session as WithAuth | undefined;
  const auth = s?.auth;
  if (!s || !auth) return undefined;
  const now = (deps.now ?? Date.now)();
  if (now > sessionEndsAt(auth, deps.config)) {
    await destroy(req);
    return undefined;
  }
  auth.lastSeen = now;
  return auth;
}

/** New session id on login (session fixation), then store who signed in. */
export async function startSession(req: Request, auth: Omit<SessionAuth, 'createdAt' | 'lastSeen'>, now: number): Promise<void> {
  await new Promise<void>((resolve, reject) => req.session.regenerate((err) => (err ? reject(err) : resolve())));
  (req.session as WithAuth).auth = { ...auth, createdAt: now, lastSeen: now };
  await new Promise<void>((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())));
}

export async function destroy(req: Request): Promise<void> {
  if (!req.session) return;
  await new Promise<void>((resolve) => req.session.destroy(() => resolve()));
}
