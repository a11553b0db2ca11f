/**
 * Cloud link against the reference cloud over real HTTPS on loopback (self-signed CA passed as the
 * extra CA): link, autologin after restart, owner login online and with the cloud down, another
 * account rejected, unlink refused while printing (asked over a real printer.sock IPC socket).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { startCloud, type TestCloud } from '../helpers/cloud.ts';
import { cloudClientFactory, createCloudClient } from '../../services/shared/cloud-client.ts';
import { LinkStore } from '../../services/shared/link/store.ts';
import { CloudLink } from '../../services/shared/link/service.ts';
import { createLogger } from '../../services/shared/log.ts';
import { IpcClient, listenIpc, type IpcServer } from '../../services/shared/ipc-transport.ts';
import type { Handlers, PrinterApi } from '../../services/shared/ipc.ts';
import { AppError } from '../../services/shared/errors.ts';
import { cloudOwnerVerifier } from '../../services/web/cloud-owner.ts';

const OWNER = { email: 'Owner@Example.test', password: 'correct horse battery' };
const OTHER = { email: 'other@example.test', password: 'another secret 1' };
let cloud: TestCloud;
let tmp: string;
let printer: IpcServer;
let printing: string[] = [];
const logs: string[] = [];
const log = createLogger({ scope: 'test', write: (l) => logs.push(l) });

function makeLink(dataDir: string, opts: { printerSock?: string } = {}) {
  const client = cloudClientFactory({ defaultUrl: cloud.url, extraCa: cloud.ca!, log, attempts: 2, baseDelayMs: 20, timeoutMs: 2000 });
  const ipc = new IpcClient<PrinterApi>({ path: opts.printerSock ?? path.join(tmp, 'printer.sock'), service: 'printer', timeoutMs: 2000 });
  return new CloudLink({
    store: new LinkStore(dataDir), cloud: client, log,
    device: () => ({ serial: 'pb-test-0001', hostname: 'printbox-test', version: '0.1.0' }),
    activePrints: () => ipc.call('jobs.active', {}),
  });
}

before(async () => {
  cloud = await startCloud({ tls: true });
  cloud.addAccount(OWNER.email, OWNER.password);
  cloud.addAccount(OTHER.email, OTHER.password);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-cloudlink-'));
  // A stand-in printer service on the real NDJSON transport, answering only what unlink asks.
  printer = await listenIpc<PrinterApi>({
    path: path.join(tmp, 'printer.sock'), log,
    handlers: { 'jobs.active': async () => ({ active: printing.length > 0, printers: printing }) } as unknown as Handlers<PrinterApi>,
  });
});
after(async () => {
  await printer.close();
  await cloud.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('link with email+password, token stored 0600, autologin after restart, owner login', async () => {
  const dataDir = fs.mkdtempSync(path.join(tmp, 'data-'));
  const link = makeLink(dataDir);
  assert.equal(link.status().state, 'unlinked');
  await assert.rejects(link.link({ email: OWNER.email, password: 'wrong' }), (e: AppError) => e.code === 'cloud_rejected' && e.status === 401);
  const st = await link.link({ email: OWNER.email, password: OWNER.password });
  assert.equal(st.state, 'linked');
  assert.equal(st.owner?.email, OWNER.email);
  const tokenFile = path.join(dataDir, 'cloud', 'device-token');
  assert.equal(fs.statSync(tokenFile).mode & 0o777, 0o600);
  assert.equal(fs.statSync(path.join(dataDir, 'cloud', 'link.json')).mode & 0o777, 0o600);
  const rec = JSON.parse(fs.readFileSync(path.join(dataDir, 'cloud', 'link.json'), 'utf8')) as { verifier: string };
  assert.match(rec.verifier, /^\$argon2id\$/);
  assert.ok(!fs.readFileSync(path.join(dataDir, 'cloud', 'link.json'), 'utf8').includes(OWNER.password));
  assert.equal(cloud.store.devicesOf(OWNER.email).length, 1);

  // "Restart": a new service over the same data dir resumes from the token without credentials.
  const restarted = makeLink(dataDir);
  const resumed = await restarted.resume();
  assert.deepEqual([resumed.state, resumed.connected, resumed.owner?.email], ['linked', true, OWNER.email]);

  const verifier = cloudOwnerVerifier(restarted);
  assert.deepEqual(await verifier.linkedOwner(), { email: OWNER.email });
  assert.equal(await verifier.verify('owner@example.test', OWNER.password), true, 'email is case-insensitive');
  assert.equal(await verifier.verify(OWNER.email, 'wrong password'), false);
  // Another cloud account with valid cloud credentials is not the owner of this device.
  assert.equal(await verifier.verify(OTHER.email, OTHER.password), false);
  assert.ok(!logs.join('\n').includes(OWNER.password), 'passwords never reach the log');
});

test('owner login with the cloud down uses the cached argon2id verifier', async () => {
  const dataDir = fs.mkdtempSync(path.join(tmp, 'data-'));
  const link = makeLink(dataDir);
  await link.link({ email: OWNER.email, password: OWNER.password });
  await cloud.stop();
  try {
    const verifier = cloudOwnerVerifier(makeLink(dataDir));
    assert.equal(await verifier.verify(OWNER.email, OWNER.password), true);
    assert.equal(await verifier.verify(OWNER.email, 'wrong password'), false);
    assert.equal(await verifier.verify(OTHER.email, OTHER.password), false);
    const resumed = await makeLink(dataDir).resume();
    assert.deepEqual([resumed.state, resumed.connected], ['linked', false]);
  } finally {
    await cloud.start();
  }
});

test('link token path: one-time, no verifier until the first online owner login', async () => {
  const dataDir = fs.mkdtempSync(path.join(tmp, 'data-'));
  const acc = cloud.store.authenticate(OWNER.email, OWNER.password);
  const token = cloud.store.createLinkToken(acc.id);
  const link = makeLink(dataDir);
  await link.link({ link_token: token });
  assert.equal(link.status().owner?.email, OWNER.email);
  // Another device cannot reuse it.
  const other = new CloudLink({
    store: new LinkStore(fs.mkdtempSync(path.join(tmp, 'data-'))), log,
    cloud: cloudClientFactory({ defaultUrl: cloud.url, extraCa: cloud.ca!, log, attempts: 1 }),
    device: () => ({ serial: 'pb-other', hostname: 'x', version: '0' }), activePrints: async () => ({ active: false, printers: [] }),
  });
  await assert.rejects(other.link({ link_token: token }), /already used/);
  await cloud.stop();
  try {
    assert.equal(await cloudOwnerVerifier(link).verify(OWNER.email, OWNER.password), false, 'no verifier cached yet');
  } finally { await cloud.start(); }
  assert.equal(await cloudOwnerVerifier(link).verify(OWNER.email, OWNER.password), true);
  await cloud.stop();
  try {
    assert.equal(await cloudOwnerVerifier(link).verify(OWNER.email, OWNER.password), true, 'cached at the online check');
  } finally { await cloud.start(); }
});

test('unlink is refused while printing, honest when the printer service is down, works when idle', async () => {
  const dataDir = fs.mkdtempSync(path.join(tmp, 'data-'));
  const link = makeLink(dataDir);
  await link.link({ email: OWNER.email, password: OWNER.password });
  printing = ['virtual-1'];
  try {
    await assert.rejects(link.unlink(), (e: AppError) => e.status === 409 && /while printing \(virtual-1\)/.test(e.message));
    await assert.rejects(link.link({ email: OTHER.email, password: OTHER.password }), (e: AppError) => e.status === 409, 'switching account is refused too');
    assert.equal(link.status().state, 'linked');
  } finally { printing = []; }
  const down = makeLink(dataDir, { printerSock: path.join(tmp, 'nobody.sock') });
  await assert.rejects(down.unlink(), (e: AppError) => e.status === 503 && /printer service is not answering/.test(e.message));

  // Switch account when idle: the device moves to the other account in the cloud.
  const switched = await link.link({ email: OTHER.email, password: OTHER.password });
  assert.equal(switched.owner?.email, OTHER.email);
  assert.equal(cloud.store.devicesOf(OTHER.email).length, 1);
  const res = await link.unlink();
  assert.deepEqual([res.state, res.cloud_notified], ['unlinked', true]);
  assert.equal(fs.existsSync(path.join(dataDir, 'cloud', 'device-token')), false);
  assert.equal(cloud.store.devicesOf(OTHER.email).length, 0);

  await link.goOffline();
  assert.equal(link.status().state, 'offline');
});

test('a device unlinked on the cloud side becomes unlinked at resume; 5xx is retried then reported as unreachable', async () => {
  const dataDir = fs.mkdtempSync(path.join(tmp, 'data-'));
  const link = makeLink(dataDir);
  await link.link({ email: OWNER.email, password: OWNER.password });
  cloud.store.failing = true;
  try {
    await assert.rejects(createCloudClient({ url: cloud.url, extraCa: cloud.ca!, log, attempts: 2, baseDelayMs: 10 }).self('x'),
      (e: AppError) => e.code === 'cloud_unreachable');
  } finally { cloud.store.failing = false; }
  cloud.store.unlink(fs.readFileSync(path.join(dataDir, 'cloud', 'device-token'), 'utf8').trim());
  assert.equal((await makeLink(dataDir).resume()).state, 'unlinked');
});

test('the client refuses a cloud whose certificate it does not trust', async () => {
  const client = createCloudClient({ url: cloud.url, log, attempts: 1 });
  await assert.rejects(client.link({ email: OWNER.email, password: OWNER.password }, { serial: 's', hostname: 'h', version: 'v' }),
    (e: AppError) => e.code === 'cloud_unreachable' && /self[- ]signed|certificate/i.test(e.message));
  // A CA in the system bundle (Debian's ca-certificates file) is trusted without PRINTBOX_CLOUD_CA.
  const bundle = path.join(tmp, 'system-bundle.crt');
  fs.writeFileSync(bundle, `# other certs would be here\n${cloud.ca}\n`);
  const sys = createCloudClient({ url: cloud.url, log, attempts: 1, systemCaFile: bundle });
  await assert.rejects(sys.self('dt_unknown'), (e: AppError) => e.code === 'cloud_rejected', 'TLS accepted, token refused');
});

test('a cloud that accepts connections but never answers: owner login falls back after one short timeout', async () => {
  const dataDir = fs.mkdtempSync(path.join(tmp, 'data-'));
  await makeLink(dataDir).link({ email: OWNER.email, password: OWNER.password });
  const sockets = new Set<net.Socket>();
  const hole = net.createServer((s) => { sockets.add(s); });
  await new Promise<void>((r) => hole.listen(0, '127.0.0.1', r));
  try {
    const client = createCloudClient({ url: `http://127.0.0.1:${(hole.address() as net.AddressInfo).port}`, log, timeoutMs: 400, attempts: 3 });
    const link = new CloudLink({ store: new LinkStore(dataDir), cloud: () => client, log, device: () => ({ serial: 's', hostname: 'h', version: 'v' }), activePrints: async () => ({ active: false, printers: [] }) });
    const t0 = Date.now();
    assert.equal(await cloudOwnerVerifier(link).verify(OWNER.email, OWNER.password), true);
    const took = Date.now() - t0;
    assert.ok(took >= 350 && took < 1500, `one attempt of 400 ms, took ${took} ms`);
    assert.equal(link.status().connected, false);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => hole.close(r));
  }
});
