/**
 * Response parsers: one firmware line → one typed Response. Marlin formats (DESIGN.md):
 * `ok`, `ok N<n> P<planner> B<buffer>` (ADVANCED_OK), `ok T:..` (M105), `Resend: N` / `rs N`,
 * `echo:busy: processing`, `echo:Unknown command: "…"`, `wait`, `Error:…`, `!!`, temperature autoreports, `FIRMWARE_NAME:…`, `Cap:NAME:0|1`,
 * host action commands `//action:…` (host-actions.ts).
 */
import type { Temperatures } from '../../shared/ipc.ts';
import { parseHostAction, type HostAction } from './host-actions.ts';

export type Response =
  | { type: 'ok'; lastN?: number; planner?: number; buffer?: number; temperatures?: Temperatures }
  | { type: 'resend'; line: number }
  /** `forUser`: Marlin's KEEPALIVE_STATE PAUSED_FOR_USER / PAUSED_FOR_INPUT (M0/M1, M600): it waits for a click, M108 or M876. */
  | { type: 'busy'; forUser?: boolean }
  | { type: 'wait' }
  | { type: 'error'; message: string; fatal: boolean }
  | { type: 'temperatures'; temperatures: Temperatures }
  | { type: 'firmware'; fields: Record<string, string> }
  | { type: 'capability'; name: string; enabled: boolean }
  | { type: 'start' }
  | { type: 'unknown-command'; command: string }
  | { type: 'action'; action: HostAction }
  | { type: 'action-malformed'; line: string; problem: string }
  | { type: 'other'; line: string };

/**
 * Errors that do not halt the firmware: line errors come with a Resend (Marlin's "checksum mismatch",
 * "Line Number is not Last Line Number+1", Repetier's "expected line N got M", "Missing checksum");
 * Marlin's "Probing Failed" ends G28/G29 without kill() (only "Printer halted. kill() called!" after it
 * would); RepRapFirmware's rejection of one command (below). Anything else is treated as a halt, as OctoPrint does.
 */
const NOT_FATAL = /checksum|line ?number|expected line|format error|probing failed/i;
/**
 * RepRapFirmware answers a command it rejects with "Error: G1: insufficient axes homed" (the command, a
 * colon, the reason: GCodes::HandleReply) and carries on; its halts ("Heater 1 fault", "Emergency stop")
 * name no command.
 */
const REJECTED_COMMAND = /^[GMT]\d+(?:\.\d+)?: /;

export function parseTemperatures(line: string): Temperatures | undefined {
  const out: Temperatures = {};
  const re = /(?:^|\s)([TBC]\d*):\s*(-?\d+(?:\.\d+)?)(?:\s*\/\s*(-?\d+(?:\.\d+)?))?/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) out[m[1]!] = { actual: Number(m[2]), target: m[3] === undefined ? 0 : Number(m[3]) };
  if (!Object.keys(out).length) return undefined;
  // Single-hotend Marlin says "T:"; multi-hotend says "T:" (active) plus "T0:", "T1:". Normalise to T0…
  if (out.T) { if (!out.T0) out.T0 = out.T; delete out.T; }
  return out;
}

export function parseResponse(line: string): Response {
  if (/^ok\b/.test(line)) {
    const r: Response = { type: 'ok' };
    const n = /\bN(\d+)/.exec(line); if (n) r.lastN = Number(n[1]);
    const p = /\bP(\d+)/.exec(line); if (p) r.planner = Number(p[1]);
    const b = /\bB(\d+)(?!\S*:)/.exec(line); if (b) r.buffer = Number(b[1]);
    const t = parseTemperatures(line.slice(2)); if (t) r.temperatures = t;
    return r;
  }
  const rs = /^(?:Resend|rs)[: ]\s*N?(\d+)/i.exec(line);
  if (rs) return { type: 'resend', line: Number(rs[1]) };
  if (/^echo:\s*busy:/i.test(line)) return /paused for (user|input)/i.test(line) ? { type: 'busy', forUser: true } : { type: 'busy' };
  const action = parseHostAction(line);
  if (action) return action.ok ? { type: 'action', action: action.action } : { type: 'action-malformed', line, problem: action.problem };
  if (line === 'wait') return { type: 'wait' };
  if (/^Error:/i.test(line)) {
    const message = line.slice(6).trim();
    return { type: 'error', message, fatal: !NOT_FATAL.test(message) && !REJECTED_COMMAND.test(message) };
  }
  if (line.startsWith('!!')) return { type: 'error', message: line.slice(2).trim() || 'firmware halted', fatal: true };
  if (line.startsWith('FIRMWARE_NAME:')) return { type: 'firmware', fields: parseFirmwareLine(line) };
  const cap = /^Cap:([A-Z0-9_]+):([01])/.exec(line);
  if (cap) return { type: 'capability', name: cap[1]!, enabled: cap[2] === '1' };
  if (line === 'start') return { type: 'start' };
  const unknown = /^echo:\s*Unknown command:\s*"(.*)"\s*$/i.exec(line);
  if (unknown) return { type: 'unknown-command', command: unknown[1]! };
  const temps = /(?:^|\s)T\d*:\s*-?\d/.test(line) ? parseTemperatures(line) : undefined;
  if (temps) return { type: 'temperatures', temperatures: temps };
  return { type: 'other', line };
}

/** `FIRMWARE_NAME:Marlin 2.1 SOURCE_CODE_URL:… MACHINE_TYPE:Prusa i3` → { FIRMWARE_NAME: "Marlin 2.1", … } */
export function parseFirmwareLine(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  const keys = [...line.matchAll(/(?:^|\s)([A-Z_]+):/g)];
  keys.forEach((k, i) => {
    const start = k.index! + k[0].length;
    const end = i + 1 < keys.length ? keys[i + 1]!.index! : line.length;
    out[k[1]!] = line.slice(start, end).trim();
  });
  return out;
}
