/**
 * The graceful-shutdown sequence every daemon's main.ts needs, beside startService(): run once (a
 * second SIGTERM, or SIGINT during an idle exit, must not close things twice), tell systemd
 * STOPPING=1, stop the watchdog pings, then close what the service opened in the order it was
 * registered — servers before the stores they write to. A failing step is logged and the rest still
 * run (a database must be closed even if a socket refused to). A hard timer forces the exit if a step
 * hangs, well before systemd's TimeoutStopSec (90 s) would SIGKILL us without a word in the journal.
 */
import type { Logger } from './log.ts';
import type { Notifier } from './systemd.ts';

/** Exit codes: 0 all steps closed; 1 a step failed or the hard timeout fired. */
export const EXIT_OK = 0;
export const EXIT_UNCLEAN = 1;

export interface ShutdownDeps {
  log: Logger;
  notifier: Pick<Notifier, 'stopping' | 'startWatchdog'>;
  /** Forces the exit if the steps have not finished by then. */
  timeoutMs?: number;
  /** process.exit in services; tests pass their own. */
  exit?: (code: number) => void;
  /** Where SIGTERM/SIGINT handlers go (process in services). */
  signals?: Pick<NodeJS.EventEmitter, 'on'>;
}

export interface Shutdown {
  /** Adds a close step; steps run one after another in the order added. */
  add(name: string, close: () => unknown): void;
  /** Starts WATCHDOG=1 pings; they stop right after STOPPING=1, before the first step. */
  startWatchdog(): void;
  /** Runs the sequence once and exits; later calls return the same promise. */
  run(reason: string): Promise<void>;
  /** Runs the sequence on SIGTERM and SIGINT. */
  handleSignals(): void;
}

export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 20_000;

export function createShutdown(deps: ShutdownDeps): Shutdown {
  const exit = deps.exit ?? ((code: number) => process.exit(code));
  const steps: Array<{ name: string; close: () => unknown }> = [];
  let stopWatchdog: (() => void) | undefined;
  let running: Promise<void> | undefined;

  async function sequence(reason: string): Promise<void> {
    const timeoutMs = deps.timeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
    // unref'd: it must not be what keeps a process alive whose steps all finished
    const hard = setTimeout(() => {
      deps.log.error('shutdown timed out, exiting anyway', { timeoutMs });
      exit(EXIT_UNCLEAN);
    }, timeoutMs);
    hard.unref();
    deps.log.info('stopping', { reason });
    deps.notifier.stopping();
    stopWatchdog?.();
    let code = EXIT_OK;
    for (const step of steps) {
      try {
        await step.close();
      } catch (err) {
        code = EXIT_UNCLEAN;
        deps.log.error(`shutdown: closing ${step.name} failed`, { error: String((err as Error)?.message ?? err) });
      }
    }
    clearTimeout(hard);
    exit(code);
  }

  const shutdown: Shutdown = {
    add: (name, close) => { steps.push({ name, close }); },
    startWatchdog: () => { stopWatchdog = deps.notifier.startWatchdog(); },
    run: (reason) => (running ??= sequence(reason)),
    handleSignals() {
      const signals = deps.signals ?? process;
      for (const s of ['SIGTERM', 'SIGINT'] as const) signals.on(s, () => void shutdown.run(s));
    },
  };
  return shutdown;
}
