/**
 * An open GET /api/events stream opened with an API key (Authorization: Bearer) ends when that key
 * is revoked or expires. Before the fix every further request with the key got 401 while the open
 * stream went on delivering printer events (only session streams were tied to their credential).
 * Real web over HTTPS from 127.0.0.2, printer service with a virtual printer, keys created and
 * revoked by the local admin through the API.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { endsWithin, liveStream, type Stream } from '../helpers/sse.ts';
import { multipart, request, spawnService, startWeb, tempDir, type Service, type WebServer } from '../helpers/web.ts';

/** Revoking must end the stream within this (the revoke path is immediate). */
const PROMPT_MS = 3000;

let printer: Service;
let web: WebServer;
const streams: Stream[] = [];

const local = (method: string, urlPath: string, body?: unknown) => request(web, { method, path: urlPath, body, localAddress: '127.0.0.1' });

async function newKey(extra: Record<string, unknown> = {}): Promise<{ key: string; id: number }> {
  const r = await local('POST', '/api/apikeys', { name: 'sse-test', role: 'api', ...extra });
  assert.equal(r.status, 201, r.text);
  return { key: r.json.key as string, id: r.json.id as number };
}

const keyStatus = async (key: string) => (await request(web, { path: '/api/printers', bearer: key })).status;

before(async () => {
  const base = tempDir('web-sse-key');
  const runDir = path.join(base, 'run');
  printer = spawnService('services/printer/main.ts', {
    PRINTBOX_DATA_DIR: path.join(base, 'printer-data'), PRINTBOX_RUN_DIR: runDir, PRINTBOX_VIRTUAL_PRINTERS: '1',
  });
  await printer.waitFor(/printer connected/);
  web = await startWeb({ dataDir: path.join(base, 'data'), runDir });
});

after(async () => {
  for (const s of streams) s.close();
  await web?.stop();
  await printer?.stop();
});

test('revoking a key ends its open event stream; a stream of another key goes on', { timeout: 40_000 }, async () => {
  const revoked = await newKey();
  const kept = await newKey();
  const sRevoked = await liveStream(web, { bearer: revoked.key }, streams);
  const sKept = await liveStream(web, { bearer: kept.key }, streams);
  const del = await local('DELETE', `/api/apikeys/${revoked.id}`);
  assert.equal(del.status, 200, del.text);
  assert.equal(typeof del.json.revoked_at, 'string', del.text);
  await endsWithin(sRevoked, PROMPT_MS, 'the key was revoked');
  assert.equal(await keyStatus(revoked.key), 401);
  // control: the other key's stream keeps delivering and the key still works
  const mark = sKept.length;
  await sKept.waitFor(/event: temperatures\n/, 10_000, mark);
  assert.equal(sKept.isEnded(), false);
  assert.equal(await keyStatus(kept.key), 200);
});

test('a key that expires while its stream is open ends the stream at the expiry', { timeout: 40_000 }, async () => {
  // long enough that opening a live stream (snapshot + a temperature report, M155 S2) fits well inside it on a loaded machine
  const LIFETIME_MS = 8000;
  const expiresAt = Date.now() + LIFETIME_MS;
  const k = await newKey({ expires_at: new Date(expiresAt).toISOString() });
  const s = await liveStream(web, { bearer: k.key }, streams);
  await sleep(Math.max(0, expiresAt - Date.now() - 1000));
  assert.equal(s.isEnded(), false, 'the stream stays open while the key is valid');
  await endsWithin(s, Math.max(0, expiresAt - Date.now()) + PROMPT_MS, 'the key expired');
  assert.equal(await keyStatus(k.key), 401);
});

test('a key whose custom role loses printers.read loses its stream at once; the key itself still works', { timeout: 40_000 }, async () => {
  let r = await local('POST', '/api/security/roles', { name: 'feed', permissions: ['printers.read', 'files.read'] });
  assert.equal(r.status, 201, r.text);
  const k = await newKey({ role: 'feed' });
  const kept = await newKey();
  const s = await liveStream(web, { bearer: k.key }, streams);
  const sKept = await liveStream(web, { bearer: kept.key }, streams);
  r = await local('PUT', '/api/security/roles/feed', { permissions: ['files.read'] });
  assert.equal(r.status, 200, r.text);
  await endsWithin(s, PROMPT_MS, 'the role lost printers.read');
  assert.equal(await keyStatus(k.key), 403);
  assert.equal((await request(web, { path: '/api/files', bearer: k.key })).status, 200, 'not revoked');
  const mark = sKept.length;
  await sKept.waitFor(/event: temperatures\n/, 10_000, mark);
  assert.equal(sKept.isEnded(), false);
});

test('an upload or delete is announced on open streams as event: files (no names); a key without files.read is not told', { timeout: 40_000 }, async () => {
  const writer = await newKey(); // role api: files.write
  let r = await local('POST', '/api/security/roles', { name: 'temps-only', permissions: ['printers.read'] });
  assert.equal(r.status, 201, r.text);
  const blind = await newKey({ role: 'temps-only' });
  const s = await liveStream(web, { bearer: writer.key }, streams);
  const sBlind = await liveStream(web, { bearer: blind.key }, streams);
  const { body, headers } = multipart('announced.gcode', 'G28\nG1 X1 Y1\n');
  let mark = s.length;
  r = await request(web, { method: 'POST', path: '/api/files', bearer: writer.key, body, headers });
  assert.equal(r.status, 201, r.text);
  await s.waitFor(/event: files\ndata: \{\}\n\n/, 5000, mark);
  mark = s.length;
  r = await request(web, { method: 'DELETE', path: '/api/files/announced.gcode', bearer: writer.key });
  assert.equal(r.status, 204, r.text);
  await s.waitFor(/event: files\n/, 5000, mark);
  const blindMark = sBlind.length;
  await sBlind.waitFor(/event: temperatures\n/, 10_000, blindMark); // still delivering, yet…
  assert.doesNotMatch(sBlind.text, /event: files/, 'a key without files.read is not told');
});
