/**
 * TLS, the HTTP→HTTPS redirect and the static UI: the self-signed cert is generated on
 * first start with the device's names as SANs, only TLS 1.2+ is offered, its fingerprint is exposed,
 * and the built SPA is served with the right cache headers. No auth helper runs here, which also
 * shows how the web behaves while it is down.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { handshake } from '../helpers/tls.ts';
import { request, startWeb, tempDir, type WebServer } from '../helpers/web.ts';

let web: WebServer;
let staticDir: string;

before(async () => {
  const dir = tempDir('web-tls');
  staticDir = path.join(dir, 'dist');
  fs.mkdirSync(path.join(staticDir, 'assets'), { recursive: true });
  fs.writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html><title>PrintBox test UI</title>');
  fs.writeFileSync(path.join(staticDir, 'assets', 'app-abc123.js'), 'console.log(1)');
  web = await startWeb({
    dataDir: path.join(dir, 'data'), runDir: path.join(dir, 'run'),
    env: { PRINTBOX_HOSTNAME: 'printbox-test', PRINTBOX_STATIC_DIR: staticDir },
  });
});

after(async () => { await web?.stop(); });

test('the generated cert names the device and the fingerprint is logged and served', async () => {
  const x509 = new crypto.X509Certificate(web.ca);
  for (const san of ['DNS:printbox-test', 'DNS:printbox-test.local', 'DNS:localhost', 'IP Address:127.0.0.1']) {
    assert.ok(x509.subjectAltName?.includes(san), `${san} in ${x509.subjectAltName}`);
  }
  const { cert } = await handshake({ host: '127.0.0.1', port: web.httpsPort, ca: web.ca, servername: 'localhost' });
  assert.equal(cert.fingerprint256, x509.fingerprint256);
  assert.ok(web.lines.some((l) => l.includes(x509.fingerprint256)), 'fingerprint in the log');
  const info = await request(web, { path: '/api/settings/tls' });
  assert.equal(info.status, 200);
  assert.equal(info.json.fingerprint256, x509.fingerprint256);
  const pem = await request(web, { path: '/api/settings/tls/cert.pem' });
  assert.equal(pem.status, 200);
  assert.equal(pem.text, web.ca);
});

test('only TLS 1.2 and newer', async () => {
  const ok = await handshake({ host: '127.0.0.1', port: web.httpsPort, ca: web.ca, servername: 'localhost', minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
  assert.equal(ok.protocol, 'TLSv1.2');
  // the client is made willing to speak TLS 1.0/1.1 (SECLEVEL=0), so a refusal is the server's
  await assert.rejects(handshake({
    host: '127.0.0.1', port: web.httpsPort, ca: web.ca, servername: 'localhost',
    minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0',
  }));
});

function plain(method: string, p: string, host: string): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: web.httpPort, method, path: p, headers: { Host: host } }, (res) => { res.resume(); resolve(res); });
    req.on('error', reject);
    req.end();
  });
}

test('plain HTTP only redirects to HTTPS, and only for the device’s own names', async () => {
  const get = await plain('GET', '/printers?x=1', `printbox-test.local:${web.httpPort}`);
  assert.equal(get.statusCode, 301);
  assert.equal(get.headers.location, `https://printbox-test.local:${web.httpsPort}/printers?x=1`);
  const post = await plain('POST', '/api/auth/login', '127.0.0.1');
  assert.equal(post.statusCode, 308);
  assert.equal(post.headers.location, `https://127.0.0.1:${web.httpsPort}/api/auth/login`);
  const evil = await plain('GET', '/', 'evil.example');
  assert.equal(evil.statusCode, 403);
  assert.equal(evil.headers.location, undefined);
});

test('security headers are set', async () => {
  const r = await request(web, { path: '/api/health' });
  assert.match(String(r.headers['strict-transport-security']), /max-age=\d+/);
  assert.equal(r.headers['x-content-type-options'], 'nosniff');
  assert.match(String(r.headers['content-security-policy']), /default-src 'self'/);
  assert.equal(r.headers['x-powered-by'], undefined);
});

test('static UI: index no-store, hashed assets immutable, SPA fallback, API 404 stays JSON', async () => {
  const index = await request(web, { path: '/' });
  assert.equal(index.status, 200);
  assert.match(index.text, /PrintBox test UI/);
  assert.equal(index.headers['cache-control'], 'no-store');
  assert.equal((await request(web, { path: '/index.html' })).headers['cache-control'], 'no-store');
  const deep = await request(web, { path: '/printers/virtual-1' });
  assert.equal(deep.status, 200);
  assert.match(deep.text, /PrintBox test UI/);
  const asset = await request(web, { path: '/assets/app-abc123.js' });
  assert.equal(asset.status, 200);
  assert.match(String(asset.headers['cache-control']), /immutable/);
  assert.equal((await request(web, { path: '/assets/missing.js' })).status, 404);
  const api = await request(web, { path: '/api/nope' });
  assert.equal(api.status, 404);
  assert.equal(api.json.error?.code, 'not_found');
});

test('PAM login while the auth helper is down → 503, not a crash and not a throttle strike', async () => {
  for (let i = 0; i < 8; i++) { // more than the per-account allowance: abandoned attempts must not count
    const r = await request(web, { method: 'POST', path: '/api/auth/login', body: { username: 'alice', password: 'x' } });
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.error?.code, 'service_unavailable');
  }
  assert.equal((await request(web, { path: '/api/health' })).status, 200);
});
