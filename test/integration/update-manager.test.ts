/**
 * When an update happens, with the real printer service (a virtual printer on a pty) and a static update
 * server (express.static): the channel's index offers the newest release for this device, the bundle
 * downloads with progress, the install waits while a job prints and starts when it ends, and the restart
 * comes last. Refusals (another board, an older version) change nothing. A rollback goes back to the
 * version the card was flashed with, which RAUC never reports. The engine here is a recording
 * double that reads a bundle's manifest from its first line; RAUC itself installs in the image tests.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import express from 'express';
import { AppError } from '../../services/shared/errors.ts';
import type { SlotReport, UpdateStatus } from '../../services/shared/ipc.ts';
import { createLogger } from '../../services/shared/log.ts';
import type { Installer } from '../../services/updater/installer.ts';
import { UpdateManager, type ManagerDeps } from '../../services/updater/manager.ts';
import { StateFile } from '../../services/updater/state.ts';
import { startPrinterStack, type PrinterStack } from '../helpers/printer-stack.ts';
import { gcodeLines } from '../helpers/virtual-printer.ts';

const COMPATIBLE = 'printbox-rpi-arm64';
const log = createLogger({ scope: 'test', level: 'error' });
let stack: PrinterStack;
let server: http.Server;
let base = '';
let served = '';

/** A file that stands for a bundle: its manifest on the first line, then filler. */
function bundle(name: string, manifest: { compatible: string; version: string }) {
  const data = Buffer.concat([Buffer.from(JSON.stringify(manifest) + '\n'), Buffer.alloc(256 * 1024, 7)]);
  fs.writeFileSync(path.join(served, name), data);
  return { url: name, size: data.length, sha256: createHash('sha256').update(data).digest('hex') };
}

function engine() {
  const calls: string[] = [];
  const slots: SlotReport = {
    compatible: COMPATIBLE, booted: 'A',
    slots: [
      { name: 'rootfs.0', bootname: 'A', booted: true, primary: true, health: 'good', version: '0.2.0' },
      { name: 'rootfs.1', bootname: 'B', booted: false, primary: false, health: '', version: '0.1.0' },
    ],
  };
  const installer: Installer = {
    inspect: async (file) => { calls.push(`inspect ${path.basename(file)}`); return JSON.parse(fs.readFileSync(file, 'utf8').split('\n')[0]!); },
    install: async (file, progress) => {
      calls.push(`install ${path.basename(file)}`);
      for (const p of [0, 40, 80, 100]) { progress(p, `step ${p}`); await new Promise((r) => setTimeout(r, 5)); }
      slots.slots[0]!.primary = false; slots.slots[1]!.primary = true;
    },
    slots: async () => structuredClone(slots),
    activateOther: async () => { calls.push('activate other'); },
    markGood: async () => { calls.push('mark good'); },
    markBad: async () => { calls.push('mark bad'); },
  };
  return { installer, calls, slots };
}

function manager(dir: string, overrides: Partial<ManagerDeps> = {}) {
  const e = engine();
  const reboots: number[] = [];
  const seen: UpdateStatus[] = [];
  const m = new UpdateManager({
    current: { version: '0.2.0', compatible: COMPATIBLE }, installer: e.installer,
    state: StateFile.open(path.join(dir, 'state.json'), log),
    printers: () => stack.client.call('printers.list', {}),
    reboot: async () => { reboots.push(Date.now()); },
    channelUrl: (c) => `${base}/${c}/index.json`, bootId: 'boot-1', dir: path.join(dir, 'dl'), log, idlePollMs: 50,
    onChange: (s) => seen.push(s), ...overrides,
  });
  return { m, calls: e.calls, reboots, seen };
}

const settled = async (m: UpdateManager, ms = 20_000) => {
  const t0 = Date.now();
  while (!['idle', 'rebooting'].includes(m.status().phase)) {
    if (Date.now() - t0 > ms) throw new Error(`still ${m.status().phase}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return m.status();
};

before(async () => {
  stack = await startPrinterStack({
    tag: 'update', printers: { 'vp-1': { baud: 115_200, latencyMs: 3 } },
    files: { 'long.gcode': ['G28', 'G1 Z0.2 F600', ...gcodeLines(40_000)].join('\n') },
  });
  await stack.untilState('vp-1', 'idle');
  served = path.join(stack.dir, 'updates');
  fs.mkdirSync(path.join(served, 'stable'), { recursive: true });
  const rel = (version: string, compatible = COMPATIBLE) => ({ version, compatible, ...bundle(`stable/b-${version}-${compatible}.raucb`, { compatible, version }), url: `b-${version}-${compatible}.raucb` });
  fs.writeFileSync(path.join(served, 'stable/index.json'), JSON.stringify({ format: 1, channel: 'stable', releases: [rel('0.1.0'), rel('0.3.0'), rel('0.2.1'), rel('0.9.0', 'printbox-x86')] }));
  fs.mkdirSync(path.join(served, 'beta'));
  fs.writeFileSync(path.join(served, 'beta/index.json'), '{"format": 1, "channel": "beta", "releases": [{"version": "x"}]}');
  const app = express();
  app.use(express.static(served));
  server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await stack?.close();
});

test('a check offers the newest release for this board that is newer than what runs', async () => {
  const { m } = manager(fs.mkdtempSync(path.join(stack.dir, 'm-')));
  const s = await m.check();
  assert.equal(s.available?.version, '0.3.0');
  assert.equal(s.available?.url, `${base}/stable/b-0.3.0-${COMPATIBLE}.raucb`);
  assert.ok(s.lastCheck);
  assert.equal(s.phase, 'idle');
});

test('the last check and the last error outlive a restart of the service; a saved release no newer than what runs is not offered', async () => {
  const dir = fs.mkdtempSync(path.join(stack.dir, 'm-'));
  const { m } = manager(dir);
  const s = await m.check();
  m.apply({ url: `${base}/stable/gone.raucb` });
  const failed = await settled(m);
  assert.ok(failed.error, 'a bundle that is not there fails the update');
  const restarted = manager(dir).m.status();
  assert.equal(restarted.available?.version, '0.3.0');
  assert.equal(restarted.lastCheck, s.lastCheck);
  assert.deepEqual(restarted.error, failed.error);
  // the same state read by the version it offered (after that update): nothing to offer
  assert.equal(manager(dir, { current: { version: '0.3.0', compatible: COMPATIBLE } }).m.status().available, null);
});

test('a check or an apply asked for while the background check runs waits for that check instead of being refused', async () => {
  const { m } = manager(fs.mkdtempSync(path.join(stack.dir, 'm-')));
  const first = m.check();
  assert.equal(m.status().phase, 'checking');
  const second = m.check();
  assert.equal(await second, await first, 'the running check answers both');
  const again = m.check();
  await m.afterCheck();
  assert.equal(m.status().phase, 'idle');
  assert.equal((await again).available?.version, '0.3.0');
  assert.equal(m.apply({}).phase, 'downloading', 'apply goes ahead once the check is over');
  await settled(m);
});

test('a broken index, a missing one and no server at all: the reason in the error and in the status', async () => {
  const dir = fs.mkdtempSync(path.join(stack.dir, 'm-'));
  const { m } = manager(dir);
  m.updateSettings({ channel: 'beta', url: '', automatic: false });
  await assert.rejects(m.check(), (e: AppError) => e.code === 'update_index_invalid' && /releases\[0\]\.version "x"/.test(e.message));
  assert.equal(m.status().error?.code, 'update_index_invalid');
  m.updateSettings({ channel: 'custom', url: `${base}/nope/index.json`, automatic: false });
  await assert.rejects(m.check(), (e: AppError) => e.code === 'update_server_unreachable' && /answered 404/.test(e.message));
  const none = manager(dir, { channelUrl: () => undefined });
  none.m.updateSettings({ channel: 'stable', url: '', automatic: false });
  await assert.rejects(none.m.check(), (e: AppError) => e.code === 'update_server_unset' && e.status === 409);
});

test('an update asked for during a print downloads at once, installs only after the print, then restarts', async () => {
  const dir = fs.mkdtempSync(path.join(stack.dir, 'm-'));
  const { m, calls, reboots, seen } = manager(dir);
  await m.check();
  await stack.printUntil('vp-1', 'long.gcode', 50);
  m.apply({});
  await stack.until(() => m.status().phase === 'waiting', 10_000, 'waiting for the print');
  const printer = await stack.client.call('printers.get', { id: 'vp-1' });
  assert.deepEqual(m.status().waitingFor, [printer.name || 'vp-1']);
  assert.match(m.status().progress?.message ?? '', /waiting for the print to finish before installing/);
  assert.ok(seen.some((s) => s.phase === 'downloading' && (s.progress?.percent ?? -1) >= 0), 'download progress shown');
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(calls, [], 'nothing installed while the job prints');
  assert.throws(() => m.apply({}), (e: AppError) => e.code === 'update_busy');
  await stack.client.call('jobs.cancel', { printerId: 'vp-1' });
  const s = await settled(m);
  assert.equal(s.phase, 'rebooting');
  assert.deepEqual(calls, ['inspect printbox-0.3.0.raucb', 'install printbox-0.3.0.raucb']);
  assert.equal(reboots.length, 1);
  assert.deepEqual({ ...s.pending, at: undefined }, { kind: 'update', from: '0.2.0', to: '0.3.0', slot: 'B', at: undefined, bootId: 'boot-1', written: true });
  assert.ok(seen.some((x) => x.phase === 'installing' && x.progress?.percent === 80));
  assert.ok(!fs.existsSync(path.join(dir, 'dl', 'printbox-0.3.0.raucb')), 'the downloaded bundle is removed once installed');
  assert.throws(() => m.cancel(), (e: AppError) => e.code === 'update_not_running' || e.code === 'update_committed');
});

test('a cancel during the wait stops the update before anything is written', async () => {
  const dir = fs.mkdtempSync(path.join(stack.dir, 'm-'));
  const { m, calls, reboots } = manager(dir);
  await stack.until(async () => (await stack.client.call('printers.get', { id: 'vp-1' })).state === 'idle', 10_000, 'vp-1 idle');
  await stack.printUntil('vp-1', 'long.gcode', 50);
  await m.check();
  m.apply({ version: '0.3.0' });
  await stack.until(() => m.status().phase === 'waiting', 10_000, 'waiting for the print');
  m.cancel();
  const s = await settled(m);
  assert.equal(s.phase, 'idle');
  assert.equal(s.error?.code, 'update_cancelled');
  assert.deepEqual(calls, []);
  assert.deepEqual(reboots, []);
  await stack.client.call('jobs.cancel', { printerId: 'vp-1' });
});

test('a bundle for another board, or an older version, is refused and nothing changes', async () => {
  const dir = fs.mkdtempSync(path.join(stack.dir, 'm-'));
  const { m, calls, reboots } = manager(dir);
  await stack.untilState('vp-1', 'idle');
  bundle('other.raucb', { compatible: 'printbox-x86', version: '0.9.0' });
  m.apply({ file: path.join(served, 'other.raucb') });
  let s = await settled(m);
  assert.equal(s.error?.code, 'update_incompatible');
  assert.match(s.error!.message, /for "printbox-x86", this device is "printbox-rpi-arm64"; nothing was changed/);
  bundle('old.raucb', { compatible: COMPATIBLE, version: '0.1.0' });
  m.apply({ file: path.join(served, 'old.raucb') });
  s = await settled(m);
  assert.equal(s.error?.code, 'update_downgrade');
  assert.deepEqual(calls, ['inspect other.raucb', 'inspect old.raucb']);
  m.apply({ file: path.join(served, 'old.raucb'), allowDowngrade: true });
  s = await settled(m);
  assert.equal(s.phase, 'rebooting');
  assert.equal(s.pending?.to, '0.1.0');
  assert.equal(reboots.length, 1);
  assert.throws(() => manager(dir).m.apply({ file: 'relative.raucb' }), (e: AppError) => e.code === 'update_file_missing');
  assert.throws(() => manager(dir).m.apply({ url: 'ftp://x/y.raucb' }), (e: AppError) => e.code === 'invalid_update_source');
  assert.throws(() => manager(dir).m.apply({}), (e: AppError) => e.code === 'update_none');
});

test('the boot after an install tells installed from rolled back; a restart of the service alone tells nothing', async () => {
  const dir = fs.mkdtempSync(path.join(stack.dir, 'm-'));
  const state = StateFile.open(path.join(dir, 'state.json'), log);
  const pending = { kind: 'update' as const, from: '0.2.0', to: '0.3.0', slot: 'B', at: new Date().toISOString(), bootId: 'boot-1' };
  state.update((s) => ({ ...s, pending }));
  const same = manager(dir);
  await same.m.reconcile();
  assert.deepEqual(same.m.status().pending, pending, 'same boot: still pending');
  const up = manager(dir, { bootId: 'boot-2', current: { version: '0.3.0', compatible: COMPATIBLE } });
  await up.m.reconcile();
  assert.equal(up.m.status().last?.outcome, 'installed');
  assert.equal(up.m.status().pending, undefined);
  state.update((s) => ({ ...s, pending }));
  const back = manager(dir, { bootId: 'boot-2' });
  await back.m.reconcile();
  assert.equal(back.m.status().last?.outcome, 'rolled_back');
  assert.equal(back.m.status().last?.message, 'Version 0.3.0 did not start correctly; PrintBox went back to 0.2.0');
});

test('the slot the card was flashed with: its version is remembered, shown after an update, and a rollback goes back to it', async () => {
  const dir = fs.mkdtempSync(path.join(stack.dir, 'm-'));
  await stack.untilState('vp-1', 'idle');
  // as RAUC reports a freshly flashed card: no bundle version for either slot
  const e = engine();
  for (const slot of e.slots.slots) delete slot.version;
  const onA = manager(dir, { installer: e.installer });
  await onA.m.reconcile();
  assert.equal(onA.m.status().slots?.slots.find((x) => x.bootname === 'A')?.version, '0.2.0', 'the running version stands for the booted slot');
  bundle('next.raucb', { compatible: COMPATIBLE, version: '0.3.0' });
  onA.m.apply({ file: path.join(served, 'next.raucb') });
  let s = await settled(onA.m);
  assert.equal(s.phase, 'rebooting');
  assert.deepEqual(s.slots?.slots.map((x) => [x.bootname, x.version]), [['A', '0.2.0'], ['B', '0.3.0']]);
  // the reboot starts B; RAUC now knows what it wrote there, still nothing for A
  Object.assign(e.slots.slots[0]!, { booted: false });
  Object.assign(e.slots.slots[1]!, { booted: true, version: '0.3.0' });
  e.slots.booted = 'B';
  const onB = manager(dir, { installer: e.installer, bootId: 'boot-2', current: { version: '0.3.0', compatible: COMPATIBLE } });
  await onB.m.reconcile();
  assert.equal(onB.m.status().last?.outcome, 'installed');
  assert.deepEqual(onB.m.status().slots?.slots.map((x) => [x.bootname, x.version]), [['A', '0.2.0'], ['B', '0.3.0']]);
  await onB.m.rollback();
  s = await settled(onB.m);
  assert.equal(s.error, undefined);
  assert.equal(s.phase, 'rebooting');
  assert.deepEqual({ ...s.pending, at: undefined }, { kind: 'rollback', from: '0.3.0', to: '0.2.0', slot: 'A', at: undefined, bootId: 'boot-2' });
  assert.deepEqual(e.calls, ['inspect next.raucb', 'install next.raucb', 'activate other']);
  assert.equal(onB.reboots.length, 1);
  // back on A: the switch asked for happened
  Object.assign(e.slots.slots[0]!, { booted: true, primary: true });
  Object.assign(e.slots.slots[1]!, { booted: false, primary: false });
  e.slots.booted = 'A';
  const back = manager(dir, { installer: e.installer, bootId: 'boot-3' });
  await back.m.reconcile();
  assert.equal(back.m.status().last?.outcome, 'reverted');
  assert.equal(back.m.status().last?.message, 'Went back from 0.3.0 to 0.2.0 as asked');
});

test('a power cut while the slot is written: the next boot runs the old version and says the install was cut off', async () => {
  const dir = fs.mkdtempSync(path.join(stack.dir, 'm-'));
  await stack.untilState('vp-1', 'idle');
  const e = engine();
  // the engine never returns: the power went while it wrote
  e.installer.install = (_file, progress) => { progress(40, 'Copying image to rootfs.1'); return new Promise(() => {}); };
  const first = manager(dir, { installer: e.installer });
  bundle('cut.raucb', { compatible: COMPATIBLE, version: '0.3.0' });
  first.m.apply({ file: path.join(served, 'cut.raucb') });
  await stack.until(() => /Copying image/.test(first.m.status().progress?.message ?? ''), 10_000, 'the engine writing');
  assert.equal(StateFile.open(path.join(dir, 'state.json'), log).get().pending?.written, false, 'on the card before the engine writes');
  // the power goes: the boot loader starts the old slot again, a new service reads the state
  const after = manager(dir, { bootId: 'boot-2' });
  await after.m.reconcile();
  const last = after.m.status().last;
  assert.equal(last?.outcome, 'interrupted');
  assert.equal(last?.message, 'Installing 0.3.0 was cut off (the power or the system went down while it was written); 0.2.0 runs as before. Apply the update again.');
  assert.equal(after.m.status().pending, undefined);
});

test('a power cut after the engine switched but before the service recorded it: the new version reports installed', async () => {
  const dir = fs.mkdtempSync(path.join(stack.dir, 'm-'));
  const state = StateFile.open(path.join(dir, 'state.json'), log);
  state.update((s) => ({ ...s, pending: { kind: 'update', from: '0.2.0', to: '0.3.0', slot: 'other', at: new Date().toISOString(), bootId: 'boot-1', written: false } }));
  const onB = manager(dir, { bootId: 'boot-2', current: { version: '0.3.0', compatible: COMPATIBLE } });
  await onB.m.reconcile();
  assert.equal(onB.m.status().last?.outcome, 'installed');
});
