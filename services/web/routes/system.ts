/**
 * GET /api/system: what the System screen shows — CPU load and temperature, Raspberry Pi
 * throttling (vcgencmd get_throttled), memory, disks, network — and GET /api/system/journal, recent
 * journal lines of one PrintBox unit from a fixed allow-list (never an arbitrary unit or journalctl
 * argument from the request). Commands run via execFile without a shell.
 */
import { execFile } from 'node:child_process';
import os from 'node:os';
import type Si from 'systeminformation';
import { AppError, badRequest, unavailable } from '../../shared/errors.ts';
import type { WebDeps } from '../deps.ts';
import type { Route } from '../route-types.ts';

/** The units whose logs the UI may show; the image's printbox user needs group systemd-journal to read them. */
export const JOURNAL_UNITS = ['printbox-web', 'printbox-auth', 'printbox-printer', 'printbox-firstboot'] as const;

export interface SystemReport {
  hostname: string;
  uptime_s: number;
  cpu: { load: number; cores: number; temperature_c: number | null };
  /** null when vcgencmd is absent (not a Pi). */
  throttling: { raw: string; now: string[]; past: string[] } | null;
  memory: { total: number; used: number; available: number };
  disk: { mount: string; fs: string; size: number; used: number }[];
  network: { iface: string; ip4: string; ip6: string; mac: string; internal: boolean; operstate: string }[];
  units: string[];
}

export interface SystemReporter {
  report(): Promise<SystemReport>;
  journal(unit: string, lines: number): Promise<string[]>;
}

export type RunFile = (cmd: string, args: string[], timeoutMs: number) => Promise<string>;

const runFile: RunFile = (cmd, args, timeoutMs) => new Promise((resolve, reject) => {
  execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' } },
    (err, stdout) => (err ? reject(err) : resolve(stdout)));
});

/** Bits of `vcgencmd get_throttled` (Raspberry Pi documentation, "get_throttled"). */
const THROTTLE_BITS: [number, string][] = [[0, 'under-voltage'], [1, 'ARM frequency capped'], [2, 'throttled'], [3, 'soft temperature limit']];

export function decodeThrottled(output: string): SystemReport['throttling'] {
  const m = /throttled=(0x[0-9a-f]+)/i.exec(output);
  if (!m) return null;
  const v = parseInt(m[1]!, 16);
  return {
    raw: m[1]!,
    now: THROTTLE_BITS.filter(([b]) => v & (1 << b)).map(([, n]) => n),
    past: THROTTLE_BITS.filter(([b]) => v & (1 << (b + 16))).map(([, n]) => n),
  };
}

export interface SystemReporterOptions {
  run?: RunFile;
  /** systeminformation takes ~1-2 s per full sample; several open System screens share one. */
  cacheMs?: number;
}

// Loaded at first use, not at start-up: the idle web must stay small (image test: all services ≤ 150 MiB RSS).
let si: typeof Si | undefined;
const loadSi = async () => (si ??= (await import('systeminformation')).default);

export function createSystemReporter(opts: SystemReporterOptions = {}): SystemReporter {
  const run = opts.run ?? runFile;
  const cacheMs = opts.cacheMs ?? 2000;
  let cached: { at: number; value: Promise<SystemReport> } | null = null;

  async function sample(): Promise<SystemReport> {
    const si = await loadSi();
    const [load, temp, mem, fs, net, throttled] = await Promise.all([
      si.currentLoad(), si.cpuTemperature(), si.mem(), si.fsSize(), si.networkInterfaces(),
      run('vcgencmd', ['get_throttled'], 2000).then(decodeThrottled, () => null),
    ]);
    const nets = Array.isArray(net) ? net : [net];
    return {
      hostname: os.hostname(),
      uptime_s: Math.round(os.uptime()),
      cpu: { load: Math.round(load.currentLoad * 10) / 10, cores: load.cpus.length || os.cpus().length, temperature_c: temp.main ?? null },
      throttling: throttled,
      memory: { total: mem.total, used: mem.total - mem.available, available: mem.available },
      disk: fs.filter((d) => d.size > 0 && !d.mount.startsWith('/snap')).map((d) => ({ mount: d.mount, fs: d.type, size: d.size, used: d.used })),
      network: nets.map((n) => ({ iface: n.iface, ip4: n.ip4, ip6: n.ip6, mac: n.mac, internal: n.internal, operstate: n.operstate })),
      units: [...JOURNAL_UNITS],
    };
  }

  return {
    report() {
      const now = Date.now();
      if (!cached || now - cached.at > cacheMs) {
        const value = sample();
        cached = { at: now, value };
        value.catch(() => { if (cached?.value === value) cached = null; });
      }
      return cached.value;
    },
    async journal(unit, lines) {
      try {
        const out = await run('journalctl', ['--no-pager', '--quiet', '-o', 'short-iso', '-n', String(lines), '-u', `${unit}.service`], 5000);
        return out.split('\n').filter((l) => l && !l.startsWith('-- '));
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (err.code === 'ENOENT') throw unavailable('journal_unavailable', 'journalctl is not installed on this system');
        throw unavailable('journal_unavailable', 'The journal could not be read');
      }
    },
  };
}

/** Accepts "printbox-web" or "printbox-web.service"; anything else is refused. */
export function parseUnit(raw: unknown): (typeof JOURNAL_UNITS)[number] {
  const name = typeof raw === 'string' ? raw.replace(/\.service$/, '') : '';
  const unit = JOURNAL_UNITS.find((u) => u === name);
  if (!unit) throw badRequest('unit_not_allowed', `unit must be one of: ${JOURNAL_UNITS.join(', ')}`);
  return unit;
}

export function parseLines(raw: unknown): number {
  if (raw === undefined) return 100;
  const n = typeof raw === 'string' && /^\d{1,4}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= 1000)) throw badRequest('invalid_lines', 'lines must be a number from 1 to 1000');
  return n;
}

/** WebDeps plus an optional reporter (tests inject one); without it a real one is made on first use. */
export type SystemDeps = WebDeps & { system?: SystemReporter };

let fallback: SystemReporter | undefined;
const reporterOf = (deps: SystemDeps): SystemReporter => deps.system ?? (fallback ??= createSystemReporter());

export const systemRoutes: Route<SystemDeps>[] = [
  {
    method: 'get', path: '/system', access: 'system.read',
    handler: async ({ deps }) => {
      // the device's current name (hosts.ts): the reporter's os.hostname() is frozen in the web's own UTS namespace
      // admin: whether the device-administration routes work here (routes/admin.ts), so the UI offers them only then
      try { const r = await reporterOf(deps).report(); return { ...r, hostname: deps.hosts.names().dns[0] ?? r.hostname, admin: !!deps.admin }; } catch (e) {
        if (e instanceof AppError) throw e;
        throw unavailable('system_info_unavailable', 'System information could not be read');
      }
    },
  },
  {
    method: 'get', path: '/system/journal', access: 'system.read',
    handler: async ({ req, deps }) => {
      const unit = parseUnit(req.query.unit);
      const lines = parseLines(req.query.lines);
      return { unit, lines: await reporterOf(deps).journal(unit, lines) };
    },
  },
];
