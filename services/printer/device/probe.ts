/**
 * Baud autodetect with bounded time: open at each candidate rate and wait for an `ok` to an
 * unnumbered M110 (re-sent every 500 ms because a CH340/AVR board resets on open and spends ~1-2 s
 * in its bootloader, some much longer: hence a generous, configurable wait per rate). Garbage at a
 * wrong rate never yields `ok`, so the next rate is tried. A clean `Error:`/`!!` line proves the rate
 * right and the board halted (MINTEMP at boot, a kill() it repeats after every reset): that error is
 * reported instead of "no printer", and no other rate is tried.
 */
import type { Logger } from '../../shared/log.ts';
import type { OpenPort, PortLike } from '../serial/port.ts';

export interface ProbeDeps { path: string; baudrates: number[]; openPort: OpenPort; timeoutMs: number; log: Logger }
export type ProbeResult = { port: PortLike; baudrate: number } | { error: string; baudrate: number } | null;

type Answer = { ok: true } | { ok: false; error?: string };

export async function probe(deps: ProbeDeps): Promise<ProbeResult> {
  for (const baudrate of deps.baudrates) {
    let port: PortLike;
    try { port = await deps.openPort(deps.path, baudrate); } catch (e) {
      deps.log.debug('open failed', { path: deps.path, error: (e as Error).message });
      return null; // the port itself is gone or not ours: another rate will not help
    }
    const answer = await listen(port, deps.timeoutMs);
    // Oks for pokes still in flight must not reach the sender's accounting: let them land here.
    if (answer.ok) { await new Promise((r) => setTimeout(r, 300)); return { port, baudrate }; }
    await port.close();
    if (answer.error) return { error: answer.error, baudrate };
  }
  return null;
}

/** Pokes with `M110 N0` until an `ok` (or the port closes, or timeoutMs); remembers the first firmware error. */
function listen(port: PortLike, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve) => {
    let done = false;
    let error: string | undefined;
    const finish = (a: Answer) => { if (done) return; done = true; clearInterval(tick); clearTimeout(timer); resolve(a); };
    port.onLine((line) => {
      if (/^ok\b/.test(line)) finish({ ok: true });
      else if (!error && /^(Error:|!!)/.test(line)) error = line.replace(/^(Error:|!!)\s*/, '') || 'firmware halted';
    });
    port.onClose(() => finish({ ok: false, ...(error ? { error } : {}) }));
    const poke = () => port.write('\nM110 N0\n');
    const tick = setInterval(poke, 500);
    const timer = setTimeout(() => finish({ ok: false, ...(error ? { error } : {}) }), timeoutMs);
    poke();
  });
}
