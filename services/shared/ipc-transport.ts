/**
 * NDJSON request/response transport over a Unix socket, used for auth.sock and printer.sock.
 * Server: one handler per method, errors travel as WireError. Client: request ids, per-call
 * timeout, and a 503 AppError("service_unavailable") when the peer is down — the web maps that
 * straight to HTTP (STYLE.md: "a 503 when it is down").
 */
import net from 'node:net';
import fs from 'node:fs';
import { AppError, fromWire, toAppError, toWire } from './errors.ts';
import type { ApiMap, ConnectionContext, Handlers, Response } from './ipc.ts';
import type { Logger } from './log.ts';

const MAX_LINE = 1024 * 1024; // a request line larger than this is a protocol error, not a reason to buffer forever

/** Splits a socket's data into lines without unbounded growth. */
function onLines(socket: net.Socket, fn: (line: string) => void): void {
  let buf = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.trim()) fn(line);
    }
    if (buf.length > MAX_LINE) socket.destroy(new Error('IPC line too long'));
  });
}

export interface IpcServerOptions<A extends ApiMap> {
  path: string;
  handlers: Handlers<A>;
  log: Logger;
  /** File mode of the socket; access control is the socket's owner/group/mode. */
  mode?: number;
  /**
   * A listening socket inherited from systemd (printbox-auth.socket; see listenFds in systemd.ts).
   * When set, path is informational: systemd created it with the unit's SocketUser/Group/Mode.
   */
  fd?: number;
  /** Told the number of open connections whenever it changes (printbox-auth's idle exit). */
  onConnections?: (open: number) => void;
}

export interface IpcServer { close(): Promise<void>; readonly path: string }

export async function listenIpc<A extends ApiMap>(opts: IpcServerOptions<A>): Promise<IpcServer> {
  if (opts.fd === undefined) try { fs.unlinkSync(opts.path); } catch { /* absent is fine */ }
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    opts.onConnections?.(sockets.size);
    const closers: Array<() => void> = [];
    socket.on('close', () => { sockets.delete(socket); closers.forEach((f) => f()); opts.onConnections?.(sockets.size); });
    socket.on('error', () => socket.destroy());
    const send = (msg: unknown) => { if (!socket.destroyed) socket.write(JSON.stringify(msg) + '\n'); };
    const ctx: ConnectionContext = { push: send, onClose: (f) => closers.push(f) };
    onLines(socket, (line) => { void handle(line); });

    async function handle(line: string): Promise<void> {
      let id = -1;
      try {
        const req = JSON.parse(line) as { id?: unknown; method?: unknown; params?: unknown };
        if (typeof req.id !== 'number' || typeof req.method !== 'string') throw new AppError('bad_request', 400, 'Malformed IPC request');
        id = req.id;
        const handler = (opts.handlers as Record<string, (p: unknown, c: ConnectionContext) => Promise<unknown>>)[req.method];
        if (!handler || !Object.hasOwn(opts.handlers, req.method)) throw new AppError('unknown_method', 400, `Unknown method ${req.method}`);
        const result = await handler(req.params ?? {}, ctx);
        send({ id, ok: true, result });
      } catch (err) {
        const app = toAppError(err);
        if (app.status >= 500) opts.log.error('IPC handler failed', { error: String((err as Error)?.stack ?? err) });
        send({ id, ok: false, error: toWire(app) });
      }
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const ready = () => { server.off('error', reject); resolve(); };
    if (opts.fd !== undefined) server.listen({ fd: opts.fd }, ready);
    else server.listen(opts.path, ready);
  });
  if (opts.mode !== undefined && opts.fd === undefined) fs.chmodSync(opts.path, opts.mode);
  return {
    path: opts.path,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

export interface IpcClientOptions { path: string; timeoutMs?: number; service: string }

/**
 * A client that connects per call for requests (simple, no stale connection after a peer restart)
 * and keeps one long-lived connection for event subscriptions.
 */
export class IpcClient<A extends ApiMap> {
  private nextId = 1;
  constructor(private readonly opts: IpcClientOptions) {}

  call<M extends keyof A & string>(method: M, params: A[M]['params'], timeoutMs = this.opts.timeoutMs ?? 10_000): Promise<A[M]['result']> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const socket = net.createConnection(this.opts.path);
      // The socket's own error code (ECONNREFUSED, ENOENT, EAGAIN…) goes into the message: "not available" alone
      // does not tell a stopped service from a refused or dropped connection.
      let cause = '';
      const down = () => new AppError('service_unavailable', 503, `The ${this.opts.service} service is not available${cause}`);
      const timer = setTimeout(() => { socket.destroy(); reject(new AppError('service_timeout', 504, `The ${this.opts.service} service did not answer in time`)); }, timeoutMs);
      let settled = false;
      const finish = (fn: () => void) => { if (settled) return; settled = true; clearTimeout(timer); socket.end(); fn(); };
      socket.on('error', (e: NodeJS.ErrnoException) => { cause = ` (${e.code ?? e.message})`; finish(() => reject(down())); });
      socket.on('close', () => { cause ||= ' (connection closed before an answer)'; finish(() => reject(down())); });
      socket.on('connect', () => socket.write(JSON.stringify({ id, method, params }) + '\n'));
      onLines(socket, (line) => {
        let msg: Response<A, M>;
        try { msg = JSON.parse(line) as Response<A, M>; } catch { return; }
        if (msg.id !== id) return;
        finish(() => (msg.ok ? resolve(msg.result) : reject(fromWire(msg.error))));
      });
    });
  }

  /**
   * Opens a long-lived connection, sends `subscribeMethod`, and delivers pushed events until closed.
   * Reconnects with backoff so a restart of the peer does not silently end live updates.
   */
  subscribe(subscribeMethod: keyof A & string, onEvent: (ev: unknown) => void, onState?: (up: boolean) => void): () => void {
    let stopped = false;
    let socket: net.Socket | undefined;
    let delay = 250;
    const connect = () => {
      if (stopped) return;
      socket = net.createConnection(this.opts.path);
      socket.on('connect', () => { delay = 250; onState?.(true); socket!.write(JSON.stringify({ id: 0, method: subscribeMethod, params: {} }) + '\n'); });
      onLines(socket, (line) => {
        try { const msg = JSON.parse(line) as { event?: string }; if (msg.event) onEvent(msg); } catch { /* ignore junk */ }
      });
      socket.on('error', () => socket?.destroy());
      socket.on('close', () => { onState?.(false); if (!stopped) setTimeout(connect, delay = Math.min(delay * 2, 5000)); });
    };
    connect();
    return () => { stopped = true; socket?.destroy(); };
  }
}
