/**
 * services/shared/shutdown.ts: the one shutdown sequence every daemon uses — STOPPING=1 and the
 * watchdog stop before any step, steps in order, once only, a failing step does not stop the rest,
 * and a hung step still ends in an exit (hard timeout).
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import test from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../services/shared/log.ts';
import { createShutdown, EXIT_OK, EXIT_UNCLEAN, type ShutdownDeps } from '../../services/shared/shutdown.ts';

function harness(opts: Partial<ShutdownDeps> = {}) {
  const events: string[] = [];
  const lines: string[] = [];
  const exits: number[] = [];
  const signals = new EventEmitter();
  const shutdown = createShutdown({
    log: createLogger({ scope: 'test', write: (l) => lines.push(l) }),
    notifier: {
      stopping: () => events.push('STOPPING=1'),
      startWatchdog: () => { events.push('watchdog started'); return () => events.push('watchdog stopped'); },
    },
    exit: (code) => { events.push(`exit ${code}`); exits.push(code); },
    signals,
    ...opts,
  });
  return { shutdown, events, lines, exits, signals };
}

test('STOPPING=1, watchdog stop, then the steps in registration order (async steps awaited), then exit 0', async () => {
  const { shutdown, events } = harness();
  shutdown.startWatchdog();
  shutdown.add('server', async () => { await sleep(20); events.push('server closed'); });
  shutdown.add('store', () => { events.push('store closed'); });
  await shutdown.run('test');
  assert.deepEqual(events, ['watchdog started', 'STOPPING=1', 'watchdog stopped', 'server closed', 'store closed', `exit ${EXIT_OK}`]);
});

test('runs once: a second signal or a run during shutdown closes nothing twice', async () => {
  const { shutdown, events, signals } = harness();
  let closes = 0;
  shutdown.add('server', async () => { closes++; await sleep(30); });
  shutdown.handleSignals();
  signals.emit('SIGTERM');
  signals.emit('SIGINT');
  signals.emit('SIGTERM');
  await shutdown.run('idle');
  await sleep(10);
  assert.equal(closes, 1);
  assert.deepEqual(events.filter((e) => e === 'STOPPING=1' || e.startsWith('exit')), ['STOPPING=1', `exit ${EXIT_OK}`]);
});

test('SIGTERM and SIGINT both start it, with the signal as the logged reason', async () => {
  for (const sig of ['SIGTERM', 'SIGINT']) {
    const { shutdown, exits, signals, lines } = harness();
    shutdown.handleSignals();
    signals.emit(sig);
    await sleep(10);
    assert.deepEqual(exits, [EXIT_OK], sig);
    assert.ok(lines.some((l) => l.includes('stopping') && l.includes(sig)), lines.join('\n'));
  }
});

test('a failing step is logged, later steps still run, and the exit code says unclean', async () => {
  const { shutdown, events, lines } = harness();
  shutdown.add('server', () => { throw new Error('socket refused'); });
  shutdown.add('database', async () => { throw new Error('SQLITE_BUSY'); });
  shutdown.add('store', () => { events.push('store closed'); });
  await shutdown.run('test');
  assert.deepEqual(events, ['STOPPING=1', 'store closed', `exit ${EXIT_UNCLEAN}`]);
  assert.ok(lines.some((l) => l.includes('closing server failed') && l.includes('socket refused')), lines.join('\n'));
  assert.ok(lines.some((l) => l.includes('closing database failed') && l.includes('SQLITE_BUSY')), lines.join('\n'));
});

test('a hung step: the hard timeout exits anyway, logged, with the unclean code', async () => {
  const { shutdown, exits, lines } = harness({ timeoutMs: 50 });
  shutdown.add('hangs', () => new Promise(() => undefined));
  const t0 = Date.now();
  void shutdown.run('test');
  while (exits.length === 0 && Date.now() - t0 < 2000) await sleep(10);
  assert.deepEqual(exits, [EXIT_UNCLEAN]);
  assert.ok(Date.now() - t0 < 1000);
  assert.ok(lines.some((l) => l.includes('timed out')), lines.join('\n'));
});

test('the hard timer is cleared when the steps finish in time (no late second exit)', async () => {
  const { shutdown, exits } = harness({ timeoutMs: 60 });
  shutdown.add('quick', () => sleep(5));
  await shutdown.run('test');
  await sleep(120);
  assert.deepEqual(exits, [EXIT_OK]);
});
