/**
 * The default printer: which printer the plain OctoPrint addressing (/api/…, /plugin/appkeys/…,
 * /sockjs at the root, root.ts) reaches. An admin chooses it (PUT /api/octoprint/default-printer); until
 * then it is the only printer, or the first by id when there are several — so a single-printer box
 * needs no setup and a client pointed at https://<device>/ keeps reaching the same printer as long as
 * the set of printers does not change. Stored beside the other runtime settings (security_meta).
 */
import { AppError, badRequest } from '../../shared/errors.ts';
import type { PrinterInfo } from '../../shared/ipc.ts';
import type { WebDeps } from '../deps.ts';
import { getSetting, setSetting } from '../security/schema.ts';
import { sec } from '../security/http.ts';

const SETTING = 'octoprint_default_printer';
const PRINTER_ID = /^[A-Za-z0-9._-]{1,64}$/;

export interface DefaultPrinter {
  /** What an admin chose; null = not chosen. */
  setting: string | null;
  /** The printer the plain addressing reaches now; null when there is none. */
  printer: string | null;
  /** Why that one: chosen in settings, the only printer, the first of several by id, or no printer at all. */
  source: 'setting' | 'only' | 'first' | 'none';
}

async function chosen(deps: WebDeps): Promise<string | null> {
  // without the security area (some test setups) there is no settings table: nothing was chosen
  if (!deps.security) return null;
  const v = await getSetting(deps.db, SETTING);
  return v && PRINTER_ID.test(v) ? v : null;
}

export async function defaultPrinter(deps: WebDeps): Promise<DefaultPrinter> {
  const setting = await chosen(deps);
  if (setting) return { setting, printer: setting, source: 'setting' };
  const ids = (await deps.printer.call('printers.list', {})).map((p) => p.id).sort();
  if (ids.length === 0) return { setting, printer: null, source: 'none' };
  return { setting, printer: ids[0]!, source: ids.length === 1 ? 'only' : 'first' };
}

/** Sets (a printer this PrintBox lists) or clears (null) the choice. */
export async function setDefaultPrinter(deps: WebDeps, printer: unknown): Promise<DefaultPrinter> {
  if (printer !== null && (typeof printer !== 'string' || !PRINTER_ID.test(printer))) {
    throw badRequest('invalid_field', '"printer" is a printer id or null', { field: 'printer' });
  }
  if (printer !== null) {
    const known = (await deps.printer.call('printers.list', {})).some((p) => p.id === printer);
    if (!known) throw badRequest('unknown_printer', `No printer “${printer}” is listed by this PrintBox`, { field: 'printer' });
  }
  sec(deps); // the settings table belongs to the security area: 503 without it
  await setSetting(deps.db, SETTING, printer ?? '');
  return defaultPrinter(deps);
}

/** The default printer's state for a request on the plain addressing; none or an unknown one is a 404 in OctoPrint's error shape. */
export async function defaultPrinterInfo(deps: WebDeps): Promise<PrinterInfo> {
  const d = await defaultPrinter(deps);
  if (!d.printer) throw new AppError('not_found', 404, 'This PrintBox has no printer yet; plug one in');
  try {
    return await deps.printer.call('printers.get', { id: d.printer });
  } catch (e) {
    if (e instanceof AppError && e.status === 404) {
      throw new AppError('not_found', 404, `The default printer “${d.printer}” is not connected: choose another in PrintBox's settings, or use the base URL /octoprint/<printer-id>`);
    }
    throw e;
  }
}
