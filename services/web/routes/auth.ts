/**
 * Login, logout and session (CONTRACT.md "HTTP API"). Throttling runs before any PAM or argon2
 * work; unknown user, wrong password, refused group and unknown email all give the same 401.
 */
import type { Request } from 'express';
import { AppError, badRequest, unauthorized } from '../../shared/errors.ts';
import { constantTimeEqual } from '../compare.ts';
import type { WebDeps } from '../deps.ts';
import type { Route } from '../route-types.ts';
import type { Attempt } from '../throttle.ts';
import { destroy, startSession, SESSION_COOKIE } from '../sessions/cookie.ts';
import { jsonObject, stringField } from './validate.ts';

/** Login bodies are tiny; the route-level cap keeps a flood of large bodies cheap to refuse. */
const AUTH_BODY_LIMIT = 16 * 1024;

const peer = (req: Request) => req.socket.remoteAddress ?? 'unknown';

/** PAM users: members of an allowed group are admins unless the role map says otherwise. */
async function pamRole(deps: WebDeps, username: string, groups: string[]): Promise<string | null> {
  if (deps.roles) return deps.roles.roleFor({ username, method: 'pam', groups });
  return groups.some((g) => deps.config.pamGroups.includes(g)) ? 'admin' : null;
}

async function loginPam(deps: WebDeps, req: Request, username: string, password: string) {
  const attempt = deps.throttle.begin(peer(req), `pam:${username.toLowerCase()}`);
  let result: { username: string; groups: string[]; stamp?: string };
  try {
    result = await deps.pam.call('pam.authenticate', { username, password });
  } catch (err) {
    if (err instanceof AppError && err.status === 401) { attempt.failed(); throw unauthorized(); }
    attempt.abandoned();
    throw err;
  }
  const role = await pamRole(deps, result.username, result.groups);
  if (!role) { attempt.failed(); throw unauthorized(); }
  return { who: { user: result.username, method: 'pam' as const, role, groups: result.groups, ...(result.stamp ? { accountStamp: result.stamp } : {}) }, attempt };
}

async function loginOwner(deps: WebDeps, req: Request, email: string, password: string) {
  const attempt = deps.throttle.begin(peer(req), `cloud:${email.trim().toLowerCase()}`);
  let owner: { email: string } | null;
  let ok: boolean;
  try {
    owner = await deps.owner.linkedOwner();
    ok = owner !== null && constantTimeEqual(email.trim().toLowerCase(), owner.email.trim().toLowerCase())
      && await deps.owner.verify(owner.email, password);
  } catch (err) {
    attempt.abandoned(); // the cloud/verifier failed to answer: no verdict on the password
    throw err;
  }
  if (!ok || !owner) { attempt.failed(); throw unauthorized('Wrong email or password'); }
  return { who: { user: owner.email, method: 'cloud' as const, role: 'admin' }, attempt };
}

/**
 * The throttle counters are cleared only when the WHOLE login succeeded: a right password followed
 * by a wrong (or missing) second factor still counts, so TOTP codes cannot be guessed unthrottled.
 */
type Who = { user: string; method: 'pam' | 'cloud'; role: string; groups?: string[]; accountStamp?: string };

async function finishLogin(deps: WebDeps, first: { who: Who; attempt: Attempt }, totp: unknown): Promise<Who> {
  try {
    await deps.security?.checkSecondFactor(first.who.user, totp);
  } catch (err) {
    if (err instanceof AppError && err.status === 401) first.attempt.failed(); else first.attempt.abandoned();
    throw err;
  }
  first.attempt.succeeded();
  return first.who;
}

/** Records a failed login (wrong credentials or code) or a lockout (429) in the audit log, then rethrows. */
async function auditedLogin<T>(deps: WebDeps, req: Request, name: string, login: () => Promise<T>): Promise<T> {
  try {
    return await login();
  } catch (err) {
    if (err instanceof AppError && (err.status === 401 || err.status === 429)) {
      const action = err.status === 429 ? 'auth.lockout' : 'auth.login';
      await deps.audit?.record({ actor: name, method: 'anonymous', ip: peer(req), action, outcome: 'failure', details: { reason: err.code } });
    }
    throw err;
  }
}

export const authRoutes: Route<WebDeps>[] = [
  {
    method: 'post', path: '/auth/login', access: 'public', bodyLimit: AUTH_BODY_LIMIT,
    handler: async ({ req, deps }) => {
      const body = jsonObject(req.body);
      const hasUser = body.username !== undefined;
      if (hasUser === (body.email !== undefined)) throw badRequest('missing_field', 'Send either "username" or "email", and "password"');
      const password = stringField(body, 'password', { max: 1024 });
      const name = hasUser ? stringField(body, 'username', { max: 64 }) : stringField(body, 'email', { max: 254 });
      // Failures, lockouts and the TOTP step are audited; the second factor is asked for
      // only after the password was right, so totp_required reveals nothing to a guesser.
      const who = await auditedLogin(deps, req, name, async () => {
        const first = hasUser ? await loginPam(deps, req, name, password) : await loginOwner(deps, req, name, password);
        return finishLogin(deps, first, body.totp);
      });
      await startSession(req, who, (deps.now ?? Date.now)());
      await deps.security?.sessions.register(req.sessionID, { username: who.user, method: who.method, ip: peer(req), userAgent: String(req.headers['user-agent'] ?? '') });
      await deps.security?.rememberUser(who.user, who.method);
      deps.log.info('login', { user: who.user, method: who.method, ip: peer(req) });
      await deps.audit?.record({ actor: who.user, method: who.method, ip: peer(req), action: 'auth.login', outcome: 'success' });
      return { user: who.user, method: who.method };
    },
  },
  {
    method: 'post', path: '/auth/logout', access: 'public', bodyLimit: AUTH_BODY_LIMIT,
    handler: async ({ req, res, deps }) => {
      // The session first: it is what must end. Its row in the session list is bookkeeping (listing prunes rows
      // whose session is gone), so a database hiccup there is logged, not turned into a failed logout.
      const sid = req.sessionID;
      await destroy(req);
      await deps.security?.sessions.forget(sid).catch((e: unknown) => deps.log.warn('logout: session list not updated', { error: String(e) }));
      res.clearCookie(SESSION_COOKIE, { path: '/', secure: true, httpOnly: true, sameSite: 'strict' });
      return undefined;
    },
  },
  {
    method: 'get', path: '/auth/session', access: 'authenticated',
    handler: ({ principal }) => ({ user: principal!.user, method: principal!.method, role: principal!.role }),
  },
];
