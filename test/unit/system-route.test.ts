/** GET /api/system's reporter and the journal allow-list, with real systeminformation and journalctl. */
import assert from 'node:assert/strict';
import os from 'node:os';
import { test } from 'node:test';
import { AppError } from '../../services/shared/errors.ts';
import { createSystemReporter, decodeThrottled, parseLines, parseUnit, type RunFile } from '../../services/web/routes/system.ts';

test('decodes vcgencmd get_throttled bits into current and past conditions', () => {
  assert.deepEqual(decodeThrottled('throttled=0x0\n'), { raw: '0x0', now: [], past: [] });
  assert.deepEqual(decodeThrottled('throttled=0x50005\n'), {
    raw: '0x50005', now: ['under-voltage', 'throttled'], past: ['under-voltage', 'throttled'],
  });
  assert.deepEqual(decodeThrottled('throttled=0x80000'), { raw: '0x80000', now: [], past: ['soft temperature limit'] });
  assert.equal(decodeThrottled('VCHI initialization failed'), null);
});

test('journal units come only from the allow-list', () => {
  assert.equal(parseUnit('printbox-web'), 'printbox-web');
  assert.equal(parseUnit('printbox-printer.service'), 'printbox-printer');
  for (const bad of ['sshd', 'printbox-web;id', '../printbox-web', '-o json', '', undefined, ['printbox-web'], 'printbox-web.service.service']) {
    assert.throws(() => parseUnit(bad), (e: unknown) => e instanceof AppError && e.status === 400 && e.code === 'unit_not_allowed', String(bad));
  }
  assert.equal(parseLines(undefined), 100);
  assert.equal(parseLines('250'), 250);
  for (const bad of ['0', '1001', '-5', '1e3', 'abc', ['5']]) assert.throws(() => parseLines(bad), AppError);
});

test('report reads the real machine: memory, disks, network, uptime; throttling null without vcgencmd', async () => {
  const calls: string[][] = [];
  const run: RunFile = async (cmd, args) => {
    calls.push([cmd, ...args]);
    if (cmd === 'vcgencmd') throw Object.assign(new Error('not found'), { code: 'ENOENT' });
    return '';
  };
  const r = await createSystemReporter({ run }).report();
  assert.equal(r.hostname, os.hostname());
  assert.equal(r.memory.total, os.totalmem());
  assert.ok(r.memory.used > 0 && r.memory.used < r.memory.total);
  assert.ok(r.cpu.cores >= 1 && r.cpu.load >= 0 && r.cpu.load <= 100);
  assert.ok(r.disk.some((d) => d.mount === '/' && d.size > 0));
  assert.ok(r.network.some((n) => n.iface === 'lo' && n.internal));
  assert.ok(r.uptime_s > 0);
  assert.equal(r.throttling, null);
  assert.deepEqual(r.units, ['printbox-web', 'printbox-auth', 'printbox-printer', 'printbox-firstboot']);
  assert.deepEqual(calls, [['vcgencmd', 'get_throttled']]);
});

test('report includes Pi throttling when vcgencmd answers, and caches one sample', async () => {
  let n = 0;
  const reporter = createSystemReporter({ run: async () => { n++; return 'throttled=0x20002\n'; }, cacheMs: 60_000 });
  const [a, b] = await Promise.all([reporter.report(), reporter.report()]);
  assert.deepEqual(a.throttling, { raw: '0x20002', now: ['ARM frequency capped'], past: ['ARM frequency capped'] });
  assert.equal(a, b);
  assert.equal(n, 1);
});

test('journal runs the real journalctl for an allowed unit and passes only fixed arguments', async () => {
  const lines = await createSystemReporter().journal('printbox-web', 5);
  assert.ok(Array.isArray(lines));
  assert.ok(lines.length <= 5);
  assert.ok(lines.every((l) => !l.startsWith('-- ')));
  let seen: string[] = [];
  await createSystemReporter({ run: async (cmd, args) => { seen = [cmd, ...args]; return '-- No entries --\n'; } }).journal('printbox-auth', 20);
  assert.deepEqual(seen, ['journalctl', '--no-pager', '--quiet', '-o', 'short-iso', '-n', '20', '-u', 'printbox-auth.service']);
});

test('a missing journalctl is a 503 with a clear message', async () => {
  const r = createSystemReporter({ run: async () => { throw Object.assign(new Error('spawn journalctl ENOENT'), { code: 'ENOENT' }); } });
  await assert.rejects(r.journal('printbox-web', 10), (e: unknown) => e instanceof AppError && e.status === 503 && /not installed/.test(e.message));
});
