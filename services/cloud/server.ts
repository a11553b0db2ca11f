/**
 * HTTP(S) front of the reference cloud: the device protocol from CONTRACT.md "Cloud protocol"
 * plus the two account-side calls a cloud web UI would offer (sign-up and "create link token"),
 * which tests and `npm run cloud:dev` use. No framework: the surface is six routes.
 */
import http from 'node:http';
import https from 'node:https';
import { AppError, toAppError } from '../shared/errors.ts';
import type { Logger } from '../shared/log.ts';
import type { CloudStore } from './store.ts';

export interface CloudServerDeps {
  store: CloudStore;
  log: Logger;
  /** When given, serve HTTPS with this key/cert. */
  tls?: { key: string; cert: string };
}

type Json = Record<string, unknown>;
type Handler = (body: Json, bearer: string | undefined) => Promise<{ status: number; body?: unknown }>;

const str = (v: unknown, name: string): string => {
  if (typeof v !== 'string' || !v || v.length > 1000) throw new AppError('bad_request', 400, `${name} is required`);
  return v;
};
const needBearer = (b: string | undefined): string => {
  if (!b) throw new AppError('unauthorized', 401, 'Device token required');
  return b;
};

function routes(store: CloudStore): Record<string, Handler> {
  return {
    'POST /api/v1/accounts': async (b) => {
      const acc = store.addAccount(str(b.email, 'email'), str(b.password, 'password'));
      return { status: 201, body: { id: acc.id, email: acc.email } };
    },
    'POST /api/v1/link-tokens': async (b) => {
      const acc = store.authenticate(str(b.email, 'email'), str(b.password, 'password'));
      return { status: 201, body: { link_token: store.createLinkToken(acc.id) } };
    },
    'POST /api/v1/devices/link': async (b) => {
      const d = (b.device ?? {}) as Json;
      const device = { serial: str(d.serial, 'device.serial'), hostname: str(d.hostname, 'device.hostname'), version: str(d.version, 'device.version') };
      const creds = typeof b.link_token === 'string' ? { link_token: b.link_token } : { email: str(b.email, 'email'), password: str(b.password, 'password') };
      const out = store.link(creds, device);
      // After the cloud committed the link, before the device hears about it: the worst moment for a power cut.
      // unref: a test that killed the device and stops the cloud should not wait for this timer.
      if (store.linkDelayMs) await new Promise((r) => setTimeout(r, store.linkDelayMs).unref());
      return { status: 200, body: out };
    },
    'POST /api/v1/devices/verify-owner': async (b, bearer) => {
      store.verifyOwner(needBearer(bearer), str(b.email, 'email'), str(b.password, 'password'));
      return { status: 200, body: { ok: true } };
    },
    'POST /api/v1/devices/unlink': async (_b, bearer) => {
      store.unlink(needBearer(bearer));
      return { status: 204 };
    },
    'GET /api/v1/devices/self': async (_b, bearer) => {
      const { device, account } = store.deviceByToken(needBearer(bearer));
      return { status: 200, body: { serial: device.serial, owner: { id: account.id, email: account.email } } };
    },
  };
}

function readJson(req: http.IncomingMessage): Promise<Json> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 64 * 1024) { reject(new AppError('too_large', 413, 'Body too large')); req.destroy(); } else chunks.push(c);
    });
    req.on('end', () => {
      if (!size) return resolve({});
      try {
        const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
        resolve(v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
      } catch { reject(new AppError('bad_request', 400, 'Body must be JSON')); }
    });
    req.on('error', reject);
  });
}

export function createCloudServer(deps: CloudServerDeps): http.Server {
  const table = routes(deps.store);
  const listener = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    deps.store.emit('request', path ?? '/');
    const send = (status: number, body?: unknown) => {
      if (res.headersSent || res.destroyed) return;
      res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    try {
      if (deps.store.failing) throw new AppError('unavailable', 503, 'Cloud temporarily failing');
      const handler = table[`${req.method} ${path}`];
      if (!handler) throw new AppError('not_found', 404, 'No such endpoint');
      const auth = req.headers.authorization;
      const bearer = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
      const out = await handler(await readJson(req), bearer);
      send(out.status, out.body);
    } catch (err) {
      const e = toAppError(err);
      if (e.status >= 500 && e.code === 'internal') deps.log.error('cloud request failed', { path, error: String(err) });
      send(e.status, e.toJSON());
    }
  };
  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => { void listener(req, res); };
  return deps.tls ? https.createServer({ key: deps.tls.key, cert: deps.tls.cert }, handle) : http.createServer(handle);
}
