/**
 * Whether this boot of the system is good enough to keep (docs/updates.md "Trial boot"). Every boot is
 * checked: the boot loader took one of the slot's tries, and only a healthy system gives them back
 * (`rauc status mark-good`). Healthy means a user can print: the web answers /api/health, the printer
 * service answers, and the PAM helper answers. A system that is not healthy within the trial time marks
 * its slot bad and restarts, so the boot loader starts the other slot. A separate timer unit restarts
 * the device if this service itself never gets that far (printbox-trial.timer).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../shared/log.ts';

export interface HealthCheck { name: string; run: () => Promise<void> }

export interface TrialDeps {
  checks: HealthCheck[];
  markGood: () => Promise<void>;
  markBad: () => Promise<void>;
  reboot: () => Promise<void>;
  /** Written once the boot is kept: the trial timer then leaves the device alone. */
  markKept: () => void;
  log: Logger;
  /** How long the system has to become healthy (ms). */
  trialMs: number;
  retryMs?: number;
  now?: () => number;
}

export type TrialResult = { kept: true; afterMs: number } | { kept: false; failing: string[] };

/** Runs every check until all pass or the trial time is up. */
export async function runTrial(d: TrialDeps): Promise<TrialResult> {
  const now = d.now ?? Date.now;
  const t0 = now();
  let failing: string[] = [];
  for (;;) {
    failing = [];
    for (const c of d.checks) {
      try { await c.run(); } catch (e) { failing.push(`${c.name}: ${(e as Error).message}`); }
    }
    if (!failing.length) {
      await d.markGood();
      d.markKept();
      const afterMs = now() - t0;
      d.log.info('this boot is healthy; slot marked good', { afterS: Math.round(afterMs / 1000) });
      return { kept: true, afterMs };
    }
    if (now() - t0 >= d.trialMs) break;
    await sleep(d.retryMs ?? 10_000);
  }
  d.log.error('not healthy within the trial time: marking this slot bad and restarting into the other one', { failing });
  await d.markBad();
  await d.reboot();
  return { kept: false, failing };
}
