/**
 * Finding printers: SerialPort.list() (udev) filtered by a VID:PID table of common printer boards and
 * mapped to stable /dev/serial/by-id paths, plus PRINTBOX_SERIAL_PORTS paths/globs (e.g. pty symlinks).
 * Hotplug is inotify (fs.watch) on /dev/serial/by-id — or its nearest existing parent while absent —
 * and on the directories of the extra globs; no polling loop. The M115 probe confirms a candidate.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { SerialPort } from 'serialport';
import type { Logger } from '../shared/log.ts';

export interface Candidate { id: string; path: string; product?: string }

/** VID → PIDs ('*' = any) of boards that are almost always printers. */
export const PRINTER_USB_IDS: Record<string, string[] | '*'> = {
  '2c99': '*',            // Prusa Research
  '1a86': ['7523'],       // CH340 (Creality, Anet, many clones)
  '0403': ['6001'],       // FTDI FT232R (older RAMPS/Ultimaker)
  '10c4': ['ea60'],       // CP210x (Creality 1.1.x, Ender)
  '2341': ['0042'],       // Arduino Mega 2560 (RAMPS)
  '0483': ['5740'],       // STM32 CDC (SKR, Creality 4.2.x)
  '1d50': ['6029'],       // LPC176x Marlin (SKR 1.3/1.4)
};

export function isPrinterUsbId(vid?: string, pid?: string): boolean {
  if (!vid || !pid) return false;
  const pids = PRINTER_USB_IDS[vid.toLowerCase()];
  return pids === '*' || (!!pids && pids.includes(pid.toLowerCase()));
}

/** A stable, URL-safe id from a port path: the by-id name (or link basename), shortened. */
export function printerIdFor(p: string): string {
  return path.basename(p).replace(/^usb-/, '').replace(/-if\d+(-port\d+)?$/, '').replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 64);
}

function globToRegExp(glob: string): RegExp {
  return new RegExp('^' + glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]') + '$');
}

async function expand(pattern: string): Promise<string[]> {
  if (!/[*?]/.test(pattern)) return fs.existsSync(pattern) ? [pattern] : [];
  const dir = path.dirname(pattern);
  const re = globToRegExp(path.basename(pattern));
  try { return (await fsp.readdir(dir)).filter((n) => re.test(n) && !n.endsWith('.tmp')).map((n) => path.join(dir, n)); } catch { return []; }
}

export interface DiscoveryDeps { byIdDir: string; extra: string[]; log: Logger; list?: () => Promise<Array<{ path: string; vendorId?: string; productId?: string; manufacturer?: string }>> }

export async function discover(deps: DiscoveryDeps): Promise<Candidate[]> {
  const out = new Map<string, Candidate>();
  let ports: Awaited<ReturnType<NonNullable<DiscoveryDeps['list']>>> = [];
  try { ports = await (deps.list ?? (() => SerialPort.list()))(); } catch (e) { deps.log.debug('SerialPort.list failed', { error: String(e) }); }
  const byId = new Map<string, string>();
  try {
    for (const n of await fsp.readdir(deps.byIdDir)) {
      const link = path.join(deps.byIdDir, n);
      try { byId.set(await fsp.realpath(link), link); } catch { /* dangling while unplugging */ }
    }
  } catch { /* no USB serial devices at all */ }
  for (const p of ports) {
    if (!isPrinterUsbId(p.vendorId, p.productId)) continue;
    const stable = byId.get(p.path) ?? p.path;
    out.set(stable, { id: printerIdFor(stable), path: stable, ...(p.manufacturer ? { product: p.manufacturer } : {}) });
  }
  for (const pattern of deps.extra) {
    for (const p of await expand(pattern)) out.set(p, { id: printerIdFor(p), path: p });
  }
  return [...out.values()];
}

/** Calls onChange (debounced) whenever a watched directory changes. Returns a stop function. */
export function watchPorts(deps: DiscoveryDeps, onChange: () => void): () => void {
  const watchers: fs.FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  const fire = () => { clearTimeout(timer); timer = setTimeout(onChange, 250); };
  const dirs = new Set<string>();
  // Watch by-id itself or, while it does not exist (no USB serial device yet), the nearest parent.
  let d = deps.byIdDir;
  while (!fs.existsSync(d) && path.dirname(d) !== d) d = path.dirname(d);
  dirs.add(d);
  for (const pattern of deps.extra) dirs.add(path.dirname(pattern));
  for (const dir of dirs) {
    try { const w = fs.watch(dir, fire); w.on('error', () => undefined); watchers.push(w); } catch (e) { deps.log.warn('cannot watch for hotplug', { dir, error: String(e) }); }
  }
  return () => { clearTimeout(timer); watchers.forEach((w) => w.close()); };
}
