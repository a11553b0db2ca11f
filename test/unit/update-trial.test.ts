/** The trial boot: kept once every check passes; marked bad and restarted when the trial time runs out. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../services/shared/log.ts';
import { runTrial, type TrialDeps } from '../../services/updater/health.ts';

const log = createLogger({ scope: 'test', level: 'error' });

function rig(failFor: Record<string, number>, trialMs: number) {
  let clock = 0;
  const calls: string[] = [];
  const attempts: Record<string, number> = {};
  const check = (name: string) => ({
    name,
    run: async () => {
      attempts[name] = (attempts[name] ?? 0) + 1;
      clock += 1000;
      if (attempts[name]! <= (failFor[name] ?? 0)) throw new Error(`${name} not answering`);
    },
  });
  const deps: TrialDeps = {
    checks: [check('web'), check('printer service')],
    markGood: async () => { calls.push('mark good'); }, markBad: async () => { calls.push('mark bad'); },
    reboot: async () => { calls.push('reboot'); }, markKept: () => calls.push('kept'),
    log, trialMs, retryMs: 1, now: () => clock,
  };
  return { deps, calls };
}

test('a system that comes up within the trial keeps its slot, once every check passed', async () => {
  const r = rig({ web: 3 }, 60_000);
  const result = await runTrial(r.deps);
  assert.deepEqual(result, { kept: true, afterMs: 8000 });
  assert.deepEqual(r.calls, ['mark good', 'kept']);
});

test('a system whose printer service never answers gives way: slot marked bad, restart, the failing checks named', async () => {
  const r = rig({ 'printer service': 1000 }, 10_000);
  const result = await runTrial(r.deps);
  assert.equal(result.kept, false);
  assert.deepEqual(!result.kept && result.failing, ['printer service: printer service not answering']);
  assert.deepEqual(r.calls, ['mark bad', 'reboot']);
});
