/**
 * OctoPrint's push API (docs.octoprint.org "Push updates", 1.11) at /octoprint/<printer-id>/sockjs,
 * served with the `sockjs` package — SockJS's transports and its raw websocket at `…/sockjs/websocket`,
 * which OctoPod, OctoApp and FDM Monster use. The protocol follows octoprint/server/util/sockjs.py:
 * `connected` on open; `{"auth": "<user>:<session>"}` from the client (the session key of a passive
 * POST /api/login, push-auth.ts); then `history` once and `current` at most every 500 ms × the client's
 * `{"throttle": n}`, `event` on state changes and `plugin` messages (host prompts, notifications). A socket that is not authenticated gets only
 * `connected` (OctoPrint holds everything else back without the STATUS permission) and is closed after
 * AUTH_TIMEOUT_MS; an authenticated one ends with its credential (logout, key revoked or expired, role
 * changed): `reauthRequired` and close.
 * The Host allow-list and the Origin rule of the REST API apply to every request and upgrade here, and the
 * transports meant for pages on other sites (JSONP, htmlfile, the iframe) are not served.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type https from 'node:https';
import type { Duplex } from 'node:stream';
import type sockjs from 'sockjs';
import { AppError } from '../../shared/errors.ts';
import type { WebDeps } from '../deps.ts';
import { OCTOPRINT_PERMISSIONS } from './auth.ts';
import { defaultPrinterInfo } from './default-printer.ts';
import { jobStateOf } from './job.ts';
import { PUSH_ACCESS, redeemPushSession, type PushGrant } from './push-auth.ts';
import { createPushHub, type HubMessage, type PushHub } from './push-hub.ts';
import { promptMessage, statePart, tempSample } from './push-state.ts';
import { OCTOPRINT_VERSION } from './routes.ts';

/**
 * sockjs builds its path regexps from the prefix; the groups must not capture (its dispatcher counts groups).
 * Without /octoprint/<printer-id> in front (/sockjs at the root) it is the default printer's (root.ts).
 */
const PREFIX = '(?:/octoprint/(?:[A-Za-z0-9._-]{1,64}))?/sockjs';
const PATH = /^(?:\/octoprint\/([A-Za-z0-9._-]{1,64}))?\/sockjs(?:[/?]|$)/;
/** SockJS transports for cross-site pages (script tags, iframes): PrintBox serves websocket, xhr and eventsource. */
const CROSS_SITE_TRANSPORTS = /\/(?:jsonp|jsonp_send|htmlfile|iframe[0-9a-z._-]*\.html)\/?(?:\?|$)/i;
/** OctoPrint's base rate limit for `current` (sockjs.py _base_rate_limit). */
const BASE_INTERVAL_MS = 500;
/** Clients authenticate right after `connected` (they log in first); a socket that does not is closed. */
const AUTH_TIMEOUT_MS = 15_000;
const MAX_MESSAGE_CHARS = 8192;
const MAX_THROTTLE = 120;
/** Per socket, between two `current` messages (OctoPrint's history keeps 300 log lines). */
const MAX_BACKLOG = 300;
/** Close code for "not authenticated", "credential ended", "unknown printer" (faye-websocket allows 1000 and 3000-4999 only). */
const CLOSE_REFUSED = 4001;

export interface PushServer { close(): void }

/** Same origin as for the REST API (app.ts sameOrigin), with the port normalised and wss: allowed (Starscream sends it). */
export function pushOriginAllowed(headers: http.IncomingHttpHeaders): boolean {
  const origin = headers.origin;
  if (origin === undefined) return headers['sec-fetch-site'] !== 'cross-site';
  try {
    const o = new URL(origin);
    if (o.protocol !== 'https:' && o.protocol !== 'wss:') return false;
    const host = new URL(`https://${headers.host ?? ''}`);
    return o.hostname === host.hostname && (o.port || '443') === (host.port || '443');
  } catch {
    return false;
  }
}

function refusal(req: http.IncomingMessage, deps: WebDeps): AppError | undefined {
  if (!deps.hosts.allowed(req.headers.host)) return new AppError('host_not_allowed', 403, 'Unknown host name; use the device name or address');
  if (!pushOriginAllowed(req.headers)) return new AppError('cross_origin', 403, 'Cross-origin request refused');
  if (CROSS_SITE_TRANSPORTS.test(req.url ?? '')) return new AppError('not_found', 404, 'This SockJS transport is not served; use the websocket, xhr or eventsource transport');
  return undefined;
}

const errorBody = (e: AppError) => JSON.stringify({ error: e.message });

type SockjsHandler = (req: http.IncomingMessage, resOrSocket: http.ServerResponse | Duplex, head?: Buffer) => boolean;

/**
 * Installs the push API on the HTTPS server, in front of the app: sockjs handles its paths, the rest goes on to
 * express. sockjs and its websocket stack (~100 modules) are loaded with the first push request, not at start:
 * most devices never see an OctoPrint client, and an idle web service should not hold them.
 */
export function installPush(server: https.Server, deps: WebDeps): PushServer {
  const hub = createPushHub(deps);
  const sockets = new Set<sockjs.Connection>();
  let loading: Promise<SockjsHandler> | undefined;
  const load = () => loading ??= import('sockjs').then(({ default: lib }) => {
    const srv = lib.createServer({
      prefix: PREFIX,
      log: (severity, line) => { if (severity === 'error') deps.log.warn('sockjs', { line }); },
      // only same-origin use (the Origin rule above), so no CORS headers for other sites
      ...{ disable_cors: true },
    });
    srv.on('connection', (conn: sockjs.Connection | null) => {
      if (!conn) return; // the client went away before the session opened
      sockets.add(conn);
      conn.on('close', () => sockets.delete(conn));
      openSocket(conn, deps, hub);
    });
    // @types/sockjs does not declare Server.listener(); it is sockjs's own installHandlers() without the listener juggling
    return (srv as unknown as { listener(): { getHandler(): SockjsHandler } }).listener().getHandler();
  });
  guard(server, deps, load);
  return {
    close() {
      for (const c of sockets) c.close();
      hub.close();
    },
  };
}

/** Puts the Host/Origin check in front of sockjs, which gets the push paths; other requests go to express, other upgrades are refused. */
function guard(server: https.Server, deps: WebDeps, load: () => Promise<SockjsHandler>): void {
  const onRequest = server.listeners('request') as Array<(req: http.IncomingMessage, res: http.ServerResponse) => void>;
  server.removeAllListeners('request');
  server.removeAllListeners('upgrade');
  const unavailable = (e: unknown) => {
    deps.log.error('push: sockjs could not be loaded', { error: String((e as Error)?.message ?? e) });
    return new AppError('push_unavailable', 503, 'The push API is not available');
  };
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (!PATH.test(req.url ?? '')) {
      for (const l of onRequest) l.call(server, req, res);
      return;
    }
    const refused = refusal(req, deps);
    const answer = (e: AppError) => res.writeHead(e.status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(errorBody(e));
    if (refused) return void answer(refused);
    load().then((handle) => {
      if (!handle(req, res)) for (const l of onRequest) l.call(server, req, res);
    }, (e: unknown) => answer(unavailable(e)));
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const answer = (e: AppError) => {
      const body = errorBody(e);
      socket.on('error', () => socket.destroy());
      socket.end(`HTTP/1.1 ${e.status} ${http.STATUS_CODES[e.status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    };
    const refused = PATH.test(req.url ?? '') ? refusal(req, deps) : new AppError('not_found', 404, 'No websocket here');
    if (refused) return void answer(refused);
    load().then((handle) => {
      if (!handle(req, socket, head)) answer(new AppError('not_found', 404, 'No websocket here'));
    }, (e: unknown) => answer(unavailable(e)));
  });
}

const hash = (s: string) => crypto.createHash('sha256').update(s).digest('hex').slice(0, 32);

/** The `connected` message (sockjs.py on_open): who we claim to be, and OctoPrint's permission list. */
function connectedPayload(deps: WebDeps) {
  return {
    version: OCTOPRINT_VERSION, display_version: OCTOPRINT_VERSION, branch: null, python_version: null,
    // no UI plugins and no OctoPrint settings file: stable per PrintBox version
    plugin_hash: hash(`printbox-plugins ${deps.version}`), config_hash: hash(`printbox-config ${deps.version}`),
    debug: false, safe_mode: null, online: true, permissions: OCTOPRINT_PERMISSIONS,
  };
}

type Message = Record<string, unknown>;

function parse(data: unknown): Message | undefined {
  if (typeof data !== 'string' || data.length > MAX_MESSAGE_CHARS) return undefined;
  try {
    const m: unknown = JSON.parse(data);
    return m && typeof m === 'object' && !Array.isArray(m) ? (m as Message) : undefined;
  } catch {
    return undefined; // OctoPod's heartbeat is a single space; OctoPrint ignores what is not JSON
  }
}

function openSocket(conn: sockjs.Connection, deps: WebDeps, hub: PushHub): void {
  const named = PATH.exec(conn.pathname ?? conn.url ?? '')?.[1];
  let printerId = named ?? '';
  const now = deps.now ?? Date.now;
  let closed = false;
  let throttle = 1;
  let dirty = false;
  let building = false;
  let temps: Array<Record<string, unknown>> = [];
  let logs: string[] = [];
  let release: (() => void) | undefined;
  let unwatch: (() => void) | undefined;
  let tick: NodeJS.Timeout | undefined;
  let session = 0; // bumped on every auth, so an older auth still awaiting does not win

  const send = (type: string, payload: unknown) => { if (!closed) conn.write(JSON.stringify({ [type]: payload })); };
  // @types/sockjs says the code is a string; sockjs and faye-websocket take the number
  const end = (reason: string) => { if (!closed) (conn as unknown as { close(code: number, reason: string): boolean }).close(CLOSE_REFUSED, reason); };
  let authTimer: NodeJS.Timeout | undefined;
  /** Until a valid auth (again after a failed re-auth), the socket has AUTH_TIMEOUT_MS to send one. */
  const armAuthTimer = () => {
    authTimer ??= setTimeout(() => end('Not authenticated: send {"auth": "<user>:<session>"} from a passive POST /api/login'), AUTH_TIMEOUT_MS);
  };
  armAuthTimer();

  function logout(): void {
    release?.(); release = undefined;
    unwatch?.(); unwatch = undefined;
    clearTimeout(tick); tick = undefined;
    temps = []; logs = [];
  }

  const onHub = (m: HubMessage) => {
    if (m.kind === 'event') send('event', { type: m.event.type, payload: m.event.payload });
    else if (m.kind === 'temps') { temps.push(m.sample); temps = temps.slice(-MAX_BACKLOG); dirty = true; }
    else if (m.kind === 'log') { logs.push(m.line); logs = logs.slice(-MAX_BACKLOG); dirty = true; }
    else if (m.kind === 'plugin') send('plugin', { plugin: m.plugin, data: m.data });
    else dirty = true;
  };

  async function state() {
    const p = hub.info(printerId);
    return p && statePart(p, await jobStateOf(deps, p));
  }

  /** `current` when something changed, at most every 500 ms × throttle (sockjs.py on_printer_send_current_data). */
  async function sendCurrent(): Promise<void> {
    tick = setTimeout(() => void sendCurrent(), BASE_INTERVAL_MS * throttle);
    if (!dirty || building) return;
    dirty = false;
    building = true;
    try {
      const s = await state();
      if (s && unwatch) send('current', { ...s, temps: temps.splice(0), logs: logs.splice(0), messages: [], serverTime: now() / 1000 });
    } catch (e) {
      deps.log.debug('push: no current', { printer: printerId, error: String((e as Error)?.message ?? e) });
    } finally { building = false; }
  }

  async function authenticate(auth: unknown): Promise<void> {
    const mine = ++session;
    const grant: PushGrant | undefined = redeemPushSession(deps, auth);
    const principal = grant ? await grant.current() : null;
    if (closed || mine !== session) return;
    logout();
    armAuthTimer();
    if (!grant || !principal || principal.user !== grant.principal.user) { send('reauthRequired', { reason: 'stale' }); return; }
    if (!principal.permissions.has(PUSH_ACCESS)) return; // like OctoPrint without STATUS: nothing but `connected`
    try {
      // at the root: the default printer as it is at auth time (a later change of the setting needs a reconnect)
      const info = named === undefined ? await defaultPrinterInfo(deps) : await deps.printer.call('printers.get', { id: printerId });
      printerId = info.id;
      hub.seed(info);
    } catch (e) {
      if (e instanceof AppError && e.status === 404) return end(named === undefined ? e.message : `Unknown printer "${printerId}"`);
      deps.log.warn('push: printer service unavailable', { error: String((e as Error)?.message ?? e) });
      return end('The printer service is not available; reconnect later');
    }
    if (closed || mine !== session) return;
    clearTimeout(authTimer);
    authTimer = undefined;
    unwatch = hub.watch(printerId, onHub);
    release = grant.bind(() => { send('reauthRequired', { reason: 'logout' }); end('The credential of this socket ended'); });
    const s = await state().catch(() => undefined);
    if (closed || mine !== session || !s) return;
    const p = hub.info(printerId);
    send('history', { ...s, temps: p ? [tempSample(p.temperatures, now())] : [], logs: [], messages: [], serverTime: now() / 1000 });
    // A prompt already open when the client connects (OctoPrint's client asks the plugin's GET for it).
    if (p?.prompt) send('plugin', { plugin: 'action_command_prompt', data: promptMessage(p.prompt) });
    tick = setTimeout(() => void sendCurrent(), BASE_INTERVAL_MS * throttle);
  }

  conn.on('data', (data: unknown) => {
    const m = parse(data);
    if (!m) return;
    if ('auth' in m) {
      authenticate(m.auth).catch((e: unknown) => deps.log.warn('push: auth failed', { error: String((e as Error)?.message ?? e) }));
    } else if ('throttle' in m) {
      // OctoPrint: int(throttle) >= 1, else ignored
      const t = Math.trunc(Number(m.throttle));
      if (Number.isFinite(t) && t >= 1) throttle = Math.min(t, MAX_THROTTLE);
    }
  });
  conn.on('close', () => {
    closed = true;
    clearTimeout(authTimer);
    logout();
  });
  send('connected', connectedPayload(deps));
}
