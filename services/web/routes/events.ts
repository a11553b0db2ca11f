/**
 * GET /api/events — Server-Sent Events for the UI (CONTRACT.md "Live events"): first
 * `event: snapshot` {printers}, then the printer service's PrinterEvents as `event: <name>`
 * (printer, removed, temperatures, job, log), `event: service` {up} when printer.sock drops/returns, and
 * `event: files` {} after an upload or delete (to callers with files.read), so every open tab lists the files again.
 * A stream opened by a session ends when that session ends, one opened with an API key when the key is
 * revoked or expires, and either when its role loses printers.read (sessions/bind-streams.ts).
 */
import type { PrinterEvent } from '../../shared/ipc.ts';
import type { WebDeps } from '../deps.ts';
import type { Route } from '../route-types.ts';
import { bindStreamToApiKey, bindStreamToSession } from '../sessions/bind-streams.ts';

const KEEPALIVE_MS = 20_000;
/** Needed to open the stream, and to keep it open (sessions/bind-streams.ts re-checks it). */
const ACCESS = 'printers.read' as const;

export const eventRoutes: Route<WebDeps>[] = [
  {
    method: 'get', path: '/events', access: ACCESS, raw: true,
    handler: async ({ req, res, principal, deps }) => {
      const printers = await deps.printer.call('printers.list', {}); // 503 before any header when the service is down
      res.status(200).set({ 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache, no-transform', 'X-Accel-Buffering': 'no', Connection: 'keep-alive' });
      res.flushHeaders();
      const send = (event: string, data: unknown) => { if (!res.writableEnded) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`); };
      send('snapshot', { printers });
      let first = true;
      const stop = deps.printer.subscribe('events.subscribe', (ev) => {
        const e = ev as PrinterEvent;
        send(e.event, e.data);
      }, (up) => {
        if (first && up) { first = false; return; }
        send('service', { up });
      });
      // Names only through GET /api/files (files.read): the event just says "list again".
      const filesChanged = () => send('files', {});
      const seesFiles = principal?.permissions.has('files.read') === true;
      if (seesFiles) deps.fileChanges?.on('changed', filesChanged);
      const keepalive = setInterval(() => { if (!res.writableEnded) res.write(': keepalive\n\n'); }, KEEPALIVE_MS);
      let closed = false;
      const close = () => {
        if (closed) return;
        closed = true;
        clearInterval(keepalive);
        deps.fileChanges?.off('changed', filesChanged);
        stop();
        release();
        if (!res.writableEnded) res.end();
      };
      // the stream ends with its session (logout, ended elsewhere, expiry, account change) or its API key
      // (revoked, expired), not only when the client goes
      const release = principal?.method === 'apikey'
        ? bindStreamToApiKey(req, principal, deps, ACCESS, close)
        : bindStreamToSession(req, deps, ACCESS, close);
      req.on('close', close);
    },
  },
];
