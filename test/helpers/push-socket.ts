/**
 * A raw websocket client for the OctoPrint push API (/octoprint/<printer>/sockjs/websocket), opened with
 * `ws` (FDM Monster's client library) over TLS pinned to the device cert, from 127.0.0.2 (another machine).
 */
import tls from 'node:tls';
import WebSocket from 'ws';
import type { WebServer } from './web.ts';

export type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON from the socket

export interface Socket {
  ws: WebSocket;
  messages: Msg[];
  /** The first message not yet taken with key `type` that passes `ok` (events of one change may come in either order). */
  next(type: string, ok?: (payload: any) => boolean, ms?: number): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  closed: Promise<{ code: number; reason: string }>;
  send(m: unknown): void;
}

/** TLS to the web with its device cert as the only CA, checked for the address dialled (as helpers/web.ts request). */
export function pinned(web: Pick<WebServer, 'ca'>): WebSocket.ClientOptions {
  const tlsOptions = { ca: web.ca, servername: '', checkServerIdentity: (_h: string, cert: tls.PeerCertificate) => tls.checkServerIdentity('127.0.0.1', cert) };
  return tlsOptions as unknown as WebSocket.ClientOptions; // ws types checkServerIdentity unlike Node's tls
}

/** A raw websocket to /octoprint/<printer>/sockjs/websocket (printer null: /sockjs/websocket, the default printer's), as `ws` (FDM Monster's client library) opens it. */
export function openPush(web: Pick<WebServer, 'ca' | 'httpsPort'>, printer: string | null, headers: Record<string, string> = {}): Promise<Socket> {
  const base = printer === null ? '' : `/octoprint/${printer}`;
  const ws = new WebSocket(`wss://127.0.0.1:${web.httpsPort}${base}/sockjs/websocket`, { ...pinned(web), localAddress: '127.0.0.2', headers });
  const messages: Msg[] = [];
  const waiters = new Set<() => void>();
  const taken = new Set<number>();
  ws.on('message', (data) => { messages.push(JSON.parse(String(data)) as Msg); for (const w of [...waiters]) w(); });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => { resolve({ code, reason: String(reason) }); for (const w of [...waiters]) w(); }));
  const sock: Socket = {
    ws, messages, closed,
    send: (m) => ws.send(typeof m === 'string' ? m : JSON.stringify(m)),
    next(type, ok = () => true, ms = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          for (let i = 0; i < messages.length; i++) {
            const m = messages[i]!;
            if (taken.has(i) || !(type in m) || !ok(m[type])) continue;
            taken.add(i);
            waiters.delete(check); clearTimeout(timer); resolve(m[type]); return;
          }
          if (ws.readyState === WebSocket.CLOSED) { waiters.delete(check); clearTimeout(timer); reject(new Error(`socket closed waiting for ${type}`)); }
        };
        const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`no ${type} within ${ms} ms; got ${messages.map((m) => (m.event ? `event ${m.event.type}` : Object.keys(m)[0])).join(',')}`)); }, ms);
        waiters.add(check);
        check();
      });
    },
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(sock));
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode })));
    ws.once('error', reject);
  });
}
