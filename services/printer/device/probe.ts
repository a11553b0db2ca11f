/**
 * Baud autodetect with bounded time: open at each candidate rate and wait for an `ok` to an
 * unnumbered M110 (re-sent every 500 ms because a CH340/AVR board resets on open and spends ~1-2 s
 * in its bootloader). Garbage at a wrong rate never yields `ok`, so the next rate is tried.
 */
import type { Logger } from '../../shared/log.ts';
import type { OpenPort, PortLike } from '../serial/port.ts';

export interface ProbeDeps { path: string; baudrates: number[]; openPort: OpenPort; timeoutMs: number; log: Logger }

export async function probe(deps: ProbeDeps): Promise<{ port: PortLike; baudrate: number } | null> {
  for (const baudrate of deps.baudrates) {
    let port: PortLike;
    try { port = await deps.openPort(deps.path, baudrate); } catch (e) {
      deps.log.debug('open failed', { path: deps.path, error: (e as Error).message });
      return null; // the port itself is gone or not ours: another rate will not help
    }
    const ok = await new Promise<boolean>((resolve) => {
      let done = false;
      const finish = (v: boolean) => { if (done) return; done = true; clearInterval(tick); clearTimeout(timer); resolve(v); };
      port.onLine((line) => { if (/^ok\b/.test(line)) finish(true); });
      port.onClose(() => finish(false));
      const poke = () => port.write('\nM110 N0\n');
      const tick = setInterval(poke, 500);
      const timer = setTimeout(() => finish(false), deps.timeoutMs);
      poke();
    });
    // Oks for pokes still in flight must not reach the sender's accounting: let them land here.
    if (ok) { await new Promise((r) => setTimeout(r, 300)); return { port, baudrate }; }
    await port.close();
  }
  return null;
}
