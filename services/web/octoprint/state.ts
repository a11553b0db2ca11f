/**
 * A PrintBox printer seen as one OctoPrint instance: its state text and flags, temperatures and the
 * job. OctoPrint's shapes: docs.octoprint.org "Printer operations" (GET /api/printer) and "Job
 * operations" (GET /api/job); state flags as octoprint/printer/standard.py _getStateFlags builds them.
 */
import { AppError } from '../../shared/errors.ts';
import type { JobInfo, PrinterInfo, Temperatures } from '../../shared/ipc.ts';
import type { RouteContext } from '../route-types.ts';
import type { WebDeps } from '../deps.ts';
import { defaultPrinterInfo } from './default-printer.ts';

export type Ctx = RouteContext<WebDeps>;

/**
 * The printer named by the base URL /octoprint/<printer-id>/ (an unknown id is 404), or, on the plain
 * addressing (root.ts: the same routes without :printer), the default printer.
 */
export async function printerOf(ctx: Ctx): Promise<PrinterInfo> {
  const id = ctx.req.params.printer;
  if (id === undefined) return defaultPrinterInfo(ctx.deps);
  const unknown = () => new AppError('not_found', 404, `Unknown printer “${id}”: use the base URL /octoprint/<printer-id> of a printer this PrintBox lists`);
  if (typeof id !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(id)) throw unknown();
  try {
    return await ctx.deps.printer.call('printers.get', { id });
  } catch (e) {
    if (e instanceof AppError && e.status === 404) throw unknown();
    throw e;
  }
}

/** Every route first finds its printer: an unknown id is 404 whatever the path. */
export const on = (fn: (ctx: Ctx, p: PrinterInfo) => unknown) => async (ctx: Ctx) => fn(ctx, await printerOf(ctx));

/** The job that holds the printer (printing or paused), if any. */
export const activeJob = (p: PrinterInfo): JobInfo | undefined =>
  p.job && (p.job.state === 'printing' || p.job.state === 'paused') ? p.job : undefined;

/** OctoPrint's "operational": connected and talking (idle, printing or paused). */
export const isOperational = (p: PrinterInfo): boolean => p.state === 'idle' || p.state === 'printing' || p.state === 'paused';

/** Ready = operational and no job holds it (OctoPrint's is_ready). */
export const isReady = (p: PrinterInfo): boolean => p.state === 'idle' && !activeJob(p);

export const notOperational = () => new AppError('not_operational', 409, 'Printer is not operational');

/** The state text OctoPrint would show (octoprint/util/comm.py getStateString). */
export function stateText(p: PrinterInfo): string {
  switch (p.state) {
    case 'idle': return 'Operational';
    case 'printing': return 'Printing';
    case 'paused': return p.job?.parked === false ? 'Pausing' : 'Paused';
    case 'detecting': case 'connecting': return 'Connecting';
    case 'error': return `Error: ${p.error ?? 'the printer reported an error'}`;
    case 'disconnected': return 'Offline';
  }
}

export function stateFlags(p: PrinterInfo): Record<string, boolean> {
  const operational = isOperational(p);
  const pausing = p.state === 'paused' && p.job?.parked === false;
  return {
    operational, printing: p.state === 'printing', cancelling: false, pausing, resuming: false, finishing: false,
    closedOrError: p.state === 'error' || p.state === 'disconnected', error: p.state === 'error',
    paused: p.state === 'paused' && !pausing, ready: isReady(p), sdReady: false,
  };
}

export const printerState = (p: PrinterInfo) => ({ text: stateText(p), flags: stateFlags(p), ...(p.error ? { error: p.error } : {}) });

/** PrintBox keys (T, T0, T1, B, C — Marlin's M105 names) → OctoPrint's tool0, tool1, bed, chamber. */
function octoprintHeater(key: string): string | undefined {
  if (key === 'T') return 'tool0';
  if (/^T\d+$/.test(key)) return `tool${key.slice(1)}`;
  if (key === 'B') return 'bed';
  if (key === 'C') return 'chamber';
  return undefined;
}

export function temperatures(t: Temperatures): Record<string, { actual: number; target: number; offset: number }> {
  const out: Record<string, { actual: number; target: number; offset: number }> = {};
  for (const [key, v] of Object.entries(t)) {
    const name = octoprintHeater(key);
    if (name && !(name in out)) out[name] = { actual: v.actual, target: v.target, offset: 0 };
  }
  return out;
}

/**
 * GET /api/printer?history=true: PrintBox keeps no temperature history in the web, so the history is
 * the current reading only (an intentional difference, docs/contract.md).
 */
export function temperatureHistory(t: Temperatures, limit: number): Array<Record<string, unknown>> {
  if (limit < 1) return [];
  const sample: Record<string, unknown> = { time: Math.floor(Date.now() / 1000) };
  for (const [name, v] of Object.entries(temperatures(t))) sample[name] = { actual: v.actual, target: v.target };
  return [sample];
}
