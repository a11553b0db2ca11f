/**
 * A GET /api/events (Server-Sent Events) client for integration tests: real HTTPS to the web with the
 * device cert pinned, from 127.0.0.2 (not the local-machine bypass), signed in with a session cookie
 * or an API key. Tests watch the received text and whether the server ended the response.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import tls from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WebServer } from './web.ts';

export interface Stream {
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  isEnded(): boolean;
  /** Waits for `re` in the text received after `from` (a character offset). */
  waitFor(re: RegExp, timeoutMs?: number, from?: number): Promise<void>;
  readonly length: number;
  /** Everything received so far. */
  readonly text: string;
  close(): void;
}

export interface StreamAuth { cookie?: string; bearer?: string }

/** Opens the stream; rejects unless the web answers 200. `opened` collects it for cleanup. */
export function openStream(w: Pick<WebServer, 'httpsPort' | 'ca'>, auth: StreamAuth, opened?: Stream[]): Promise<Stream> {
  return new Promise((resolve, reject) => {
    let text = '';
    let done = false;
    const waiters = new Set<() => void>();
    const headers: Record<string, string> = { Host: `127.0.0.1:${w.httpsPort}`, Accept: 'text/event-stream' };
    if (auth.cookie) headers.Cookie = auth.cookie;
    if (auth.bearer) headers.Authorization = `Bearer ${auth.bearer}`;
    const req = https.get({
      host: '127.0.0.1', port: w.httpsPort, path: '/api/events', localAddress: '127.0.0.2', ca: w.ca, agent: false, headers,
      servername: '', checkServerIdentity: (_h, cert) => tls.checkServerIdentity('127.0.0.1', cert),
    }, (res) => {
      if (res.statusCode !== 200) { reject(new Error(`GET /api/events answered ${res.statusCode}`)); res.resume(); return; }
      const ended = new Promise<void>((r) => {
        const finish = () => { done = true; r(); for (const wake of waiters) wake(); };
        res.on('end', finish);
        res.on('close', finish);
      });
      res.on('data', (c: Buffer) => { text += c.toString(); for (const wake of waiters) wake(); });
      const s: Stream = {
        ended,
        isEnded: () => done,
        get length() { return text.length; },
        get text() { return text; },
        waitFor: (re, timeoutMs = 15_000, from = 0) => new Promise((ok, fail) => {
          const check = () => {
            if (re.test(text.slice(from))) { stop(); ok(); } else if (done) { stop(); fail(new Error(`stream ended before ${re}; got:\n${text.slice(0, 1500)}`)); }
          };
          const t = setTimeout(() => { stop(); fail(new Error(`no ${re} within ${timeoutMs} ms; got:\n${text.slice(0, 1500)}`)); }, timeoutMs);
          const stop = () => { clearTimeout(t); waiters.delete(check); };
          waiters.add(check);
          check();
        }),
        close: () => req.destroy(),
      };
      opened?.push(s);
      resolve(s);
    });
    req.on('error', (e) => { if (!done) reject(e); });
  });
}

/** A stream that is really live: the snapshot, then a temperature report relayed from the virtual printer. */
export async function liveStream(w: Pick<WebServer, 'httpsPort' | 'ca'>, auth: StreamAuth, opened?: Stream[]): Promise<Stream> {
  const s = await openStream(w, auth, opened);
  await s.waitFor(/event: snapshot\n/);
  await s.waitFor(/event: temperatures\n/, 10_000);
  return s;
}

/** Fails unless the stream ends within `ms`. */
export async function endsWithin(s: Stream, ms: number, what: string): Promise<void> {
  const r = await Promise.race([s.ended.then(() => 'ended'), sleep(ms).then(() => 'open')]);
  assert.equal(r, 'ended', `the event stream was still open ${ms} ms after ${what}`);
}
