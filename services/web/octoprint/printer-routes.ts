/**
 * OctoPrint's remaining "Printer operations" (print head, tool, bed, chamber, SD card) and its "System"
 * commands, for one PrintBox printer. Checks, messages and status codes follow
 * octoprint/server/api/printer.py and system.py (1.11); the G-code is what octoprint/printer/standard.py
 * sends for the same request, each line through printers.command like POST /api/printer/command.
 * Where OctoPrint would put an unchecked value into G-code or fail with a 500, PrintBox answers 400
 * (docs/contract.md "OctoPrint-compatible API").
 */
import { AppError, badRequest } from '../../shared/errors.ts';
import type { PrinterInfo } from '../../shared/ipc.ts';
import type { WebDeps } from '../deps.ts';
import type { Route } from '../route-types.ts';
import { isNumber, isObject, num } from '../control/values.ts';
import { isOperational, notOperational, on, stateFlags, temperatureHistory, temperatures, type Ctx } from './state.ts';

const P = '/:printer/api';
const AXES = ['x', 'y', 'z'] as const;
/** OctoPrint's default profile speeds (mm/min), as GET /api/printerprofiles reports them. */
const AXIS_SPEED = { x: 6000, y: 6000, z: 200, e: 300 } as const;

type Body = Record<string, unknown>;

/** get_json_command_from_request (octoprint/server/util/flask.py): a known command and its mandatory keys. */
function commandOf(ctx: Ctx, valid: Record<string, readonly string[]>): { command: string; data: Body } {
  const raw = ctx.req.body as unknown;
  const data = (raw && typeof raw === 'object' && !Array.isArray(raw) ? raw : {}) as Body;
  const command = data.command;
  if (typeof command !== 'string' || !Object.hasOwn(valid, command)) throw badRequest('bad_command', 'command is invalid');
  if (valid[command]!.some((k) => !(k in data))) throw badRequest('bad_command', 'Mandatory parameters missing');
  return { command, data };
}


/** OctoPrint's valid_boolean_trues (octoprint/settings), case-insensitive. */
const isTrue = (v: unknown): boolean => v === true || v === 1 || (typeof v === 'string' && ['true', 'yes', 'y', '1'].includes(v.toLowerCase()));

/**
 * Feed and flow rate (standard.py _convert_rate_value): an int is a percentage, a float a factor (×100,
 * truncated); below 1 % is refused. JSON reaches Node without the int/float distinction, so 1.0 and 2.0
 * arrive as 1 and 2: OctoPrint documents 50–200 or 0.5–2.0, so those two are read as factors.
 */
function ratePercent(v: unknown): number {
  if (!isNumber(v)) throw badRequest('invalid_factor', 'factor is invalid');
  const percent = Number.isInteger(v) && v >= 3 ? v : Math.trunc(v * 100);
  if (percent < 1) throw badRequest('invalid_factor', 'factor is invalid');
  return percent;
}

/** A "printing" printer in OctoPrint's sense: a job running, or its pause still draining (PRINTING_STATES). */
function isPrinting(p: PrinterInfo): boolean {
  const f = stateFlags(p);
  return !!(f.printing || f.pausing);
}

async function send(ctx: Ctx, p: PrinterInfo, lines: string[]): Promise<void> {
  for (const gcode of lines) await ctx.deps.printer.call('printers.command', { id: p.id, gcode });
}

/**
 * Moves and extrusion go as one control action: the printer service queues the lines together and refuses
 * them itself if a job started since the check above (the same guard as PrintBox's control panel).
 */
async function sendMoves(ctx: Ctx, p: PrinterInfo, lines: string[]): Promise<void> {
  await ctx.deps.printer.call('printers.control', { id: p.id, control: { action: 'gcode', lines } });
}

/**
 * PrintBox applies no temperature offsets to printed files (OctoPrint's comm.py rewrites the file's
 * M104/M140/M141 with them), so a non-zero offset is refused rather than stored and silently ignored;
 * offset 0, which clients send to clear one, is accepted and changes nothing.
 */
function refuseOffsets(values: number[]): void {
  if (values.some((v) => v !== 0)) {
    throw badRequest('unsupported_offset', 'PrintBox does not apply temperature offsets to printed files; change the target temperature instead');
  }
}

/** OctoPrint's offset range: -50 to 50 °C. */
const isOffset = (v: unknown): v is number => isNumber(v) && v >= -50 && v <= 50;

// ───────────── print head ─────────────

function jog(data: Body): string[] {
  const moves: string[] = [];
  for (const axis of AXES) {
    if (!(axis in data)) continue;
    if (!isNumber(data[axis])) throw badRequest('invalid_axis', 'axis value is invalid');
    moves.push(`${axis.toUpperCase()}${num(data[axis] as number)}`);
  }
  if (!moves.length) throw badRequest('invalid_axis', 'At least one axis to jog must be provided');
  // standard.py jog: no speed → the slowest profile speed of the moved axes; a boolean or 0 → no F word
  let speed: number | undefined = Math.min(...AXES.filter((a) => a in data).map((a) => AXIS_SPEED[a]));
  const asked = data.speed;
  if (typeof asked === 'boolean') speed = undefined;
  else if (asked !== undefined && asked !== null) {
    if (!isNumber(asked) || asked < 0) throw badRequest('invalid_speed', 'speed is invalid');
    speed = asked || undefined;
  }
  const move = `G0 ${moves.join(' ')}${speed ? ` F${num(speed)}` : ''}`;
  return isTrue(data.absolute) ? ['G90', move] : ['G91', move, 'G90'];
}

function home(data: Body): string[] {
  const axes = data.axes;
  if (!Array.isArray(axes) || !axes.every((a) => (AXES as readonly unknown[]).includes(a))) throw badRequest('invalid_axis', 'axis is invalid');
  return ['G91', `G28 ${(axes as string[]).map((a) => `${a.toUpperCase()}0`).join(' ')}`.trim(), 'G90'];
}

/** POST /api/printer/printhead {"command": "jog"|"home"|"feedrate"}; only feedrate while printing. */
async function printheadCommand(ctx: Ctx, p: PrinterInfo): Promise<void> {
  const { command, data } = commandOf(ctx, { jog: [], home: ['axes'], feedrate: ['factor'] });
  if (!isOperational(p) || (isPrinting(p) && command !== 'feedrate')) {
    throw new AppError('not_operational', 409, 'Printer is not operational or currently printing');
  }
  if (command === 'jog') return sendMoves(ctx, p, jog(data));
  if (command === 'home') return sendMoves(ctx, p, home(data));
  return send(ctx, p, [`M220 S${ratePercent(data.factor)}`]);
}

// ───────────── tool ─────────────

/** OctoPrint's profile extruder count: PrintBox's profile counts the T0, T1 … heaters the printer reports. */
const extruders = (p: PrinterInfo): number => Math.max(1, Object.keys(p.temperatures).filter((k) => /^T\d+$/.test(k)).length);

function toolTargets(p: PrinterInfo, targets: unknown): string[] {
  if (!isObject(targets)) throw badRequest('invalid_target', 'targets contains invalid tool');
  const lines: string[] = [];
  for (const [tool, value] of Object.entries(targets)) {
    if (!/^tool\d*$/.test(tool)) throw badRequest('invalid_target', 'targets contains invalid tool');
    if (!isNumber(value) || value < 0) throw badRequest('invalid_target', 'targets contains invalid value');
    // standard.py set_temperature: "tool" is the current tool; "toolN" names it only on a multi-extruder printer
    const n = tool.slice(4);
    lines.push(n && extruders(p) > 1 ? `M104 T${Number(n)} S${num(value)}` : `M104 S${num(value)}`);
  }
  return lines;
}

function extrude(p: PrinterInfo, data: Body): string[] {
  if (isPrinting(p)) throw new AppError('printing', 409, 'Printer is currently printing');
  if (!isNumber(data.amount)) throw badRequest('invalid_amount', 'amount is invalid');
  let speed: number = AXIS_SPEED.e;
  if (data.speed !== undefined && data.speed !== null) {
    if (!isNumber(data.speed) || data.speed < 1) throw badRequest('invalid_speed', 'speed is invalid');
    speed = Math.trunc(Math.min(data.speed, AXIS_SPEED.e));
  }
  return ['G91', 'M83', `G1 E${num(data.amount)} F${speed}`, 'M82', 'G90'];
}

/** POST /api/printer/tool {"command": "select"|"target"|"offset"|"extrude"|"flowrate"}. */
async function toolCommand(ctx: Ctx, p: PrinterInfo): Promise<void> {
  if (!isOperational(p)) throw notOperational();
  const { command, data } = commandOf(ctx, { select: ['tool'], target: ['targets'], offset: ['offsets'], extrude: ['amount'], flowrate: ['factor'] });
  switch (command) {
    case 'select': {
      if (typeof data.tool !== 'string' || !/^tool\d+$/.test(data.tool)) throw badRequest('invalid_tool', 'tool is invalid');
      return send(ctx, p, [`T${Number(data.tool.slice(4))}`]);
    }
    case 'target': return send(ctx, p, toolTargets(p, data.targets));
    case 'offset': {
      const offsets = isObject(data.offsets) ? Object.entries(data.offsets) : undefined;
      if (!offsets || offsets.some(([tool]) => !/^tool\d+$/.test(tool))) throw badRequest('invalid_offset', 'offsets contains invalid tool');
      if (!offsets.every(([, v]) => isOffset(v))) throw badRequest('invalid_offset', 'offsets contains invalid value');
      return refuseOffsets(offsets.map(([, v]) => v as number));
    }
    case 'extrude': return sendMoves(ctx, p, extrude(p, data));
    default: return send(ctx, p, [`M221 S${ratePercent(data.factor)}`]);
  }
}

/** _get_temperature_data: the heaters `keep` selects, plus ?history=true&limit=N (300 by default). */
function temperatureData(ctx: Ctx, p: PrinterInfo, keep: (heater: string) => boolean): Record<string, unknown> {
  if (!isOperational(p)) throw notOperational();
  const out: Record<string, unknown> = Object.fromEntries(Object.entries(temperatures(p.temperatures)).filter(([k]) => keep(k)));
  const q = ctx.req.query;
  if (isTrue(q.history)) {
    const limit = typeof q.limit === 'string' && /^\d+$/.test(q.limit) ? Number(q.limit) : 300;
    out.history = temperatureHistory(p.temperatures, limit).map((sample) => Object.fromEntries(Object.entries(sample).filter(([k]) => k === 'time' || keep(k))));
  }
  return out;
}

// ───────────── bed and chamber ─────────────

/** The bed and the chamber differ only in their names, their G-code and the profile flag (heatedBed/heatedChamber). */
interface Heater { name: 'bed' | 'chamber'; key: 'B' | 'C'; gcode: 'M140' | 'M141' }
const BED: Heater = { name: 'bed', key: 'B', gcode: 'M140' };
const CHAMBER: Heater = { name: 'chamber', key: 'C', gcode: 'M141' };

/** PrintBox's profile has a heated bed or chamber when the printer reports its temperature (as GET /api/printerprofiles). */
function checkHeater(p: PrinterInfo, h: Heater): void {
  if (!isOperational(p)) throw notOperational();
  if (!(h.key in p.temperatures)) throw new AppError(`no_${h.name}`, 409, `Printer does not have a heated ${h.name}`);
}

const heaterCommand = (h: Heater) => async (ctx: Ctx, p: PrinterInfo): Promise<void> => {
  checkHeater(p, h);
  const { command, data } = commandOf(ctx, { target: ['target'], offset: ['offset'] });
  if (command === 'target') {
    if (!isNumber(data.target) || data.target < 0) throw badRequest('invalid_target', 'target is invalid');
    return send(ctx, p, [`${h.gcode} S${num(data.target)}`]);
  }
  if (!isOffset(data.offset)) throw badRequest('invalid_offset', 'offset is invalid');
  refuseOffsets([data.offset]);
};

const heaterState = (h: Heater) => (ctx: Ctx, p: PrinterInfo) => {
  checkHeater(p, h);
  return temperatureData(ctx, p, (k) => k === h.name);
};

// ───────────── SD card and system commands ─────────────

/** PrintBox prints from its own storage only: OctoPrint's answer when feature.sdSupport is off (GET /api/settings). */
const sdDisabled = () => { throw new AppError('not_found', 404, 'SD support is disabled'); };

/**
 * OctoPrint's system commands (Shutdown, Reboot, Restart, custom ones) run shell commands as the
 * server's user. PrintBox's web runs unprivileged and has no endpoint that powers the device off or
 * restarts services, so every source lists nothing and every action is unknown (OctoPrint: 404 for
 * an unconfigured command). Nothing runs here, so reading the system's permission suffices; a real
 * command would need its own, stronger permission.
 */
const SOURCES = ['core', 'plugin', 'custom'];

function commandsOf(ctx: Ctx): unknown[] {
  if (!SOURCES.includes(String(ctx.req.params.source))) throw new AppError('not_found', 404, 'Unknown command source: use core, plugin or custom');
  return [];
}

function runSystemCommand(ctx: Ctx): never {
  commandsOf(ctx);
  if (ctx.req.params.action === 'divider') throw badRequest('bad_command', 'Dividers cannot be executed');
  throw new AppError('not_found', 404, 'Unknown command: PrintBox offers no system commands');
}

export const printerOperationRoutes: Route<WebDeps>[] = [
  { method: 'post', path: `${P}/printer/printhead`, access: 'printers.control', handler: on(printheadCommand) },
  { method: 'get', path: `${P}/printer/tool`, access: 'printers.read', handler: on((ctx, p) => temperatureData(ctx, p, (k) => k.startsWith('tool'))) },
  { method: 'post', path: `${P}/printer/tool`, access: 'printers.control', handler: on(toolCommand) },
  { method: 'get', path: `${P}/printer/bed`, access: 'printers.read', handler: on(heaterState(BED)) },
  { method: 'post', path: `${P}/printer/bed`, access: 'printers.control', handler: on(heaterCommand(BED)) },
  { method: 'get', path: `${P}/printer/chamber`, access: 'printers.read', handler: on(heaterState(CHAMBER)) },
  { method: 'post', path: `${P}/printer/chamber`, access: 'printers.control', handler: on(heaterCommand(CHAMBER)) },
  { method: 'get', path: `${P}/printer/sd`, access: 'printers.read', handler: on(sdDisabled) },
  { method: 'post', path: `${P}/printer/sd`, access: 'printers.control', handler: on(sdDisabled) },
  { method: 'get', path: `${P}/system/commands`, access: 'system.read', handler: on(() => ({ core: [], plugin: [], custom: [] })) },
  { method: 'get', path: `${P}/system/commands/:source`, access: 'system.read', handler: on(commandsOf) },
  { method: 'post', path: `${P}/system/commands/:source/:action`, access: 'system.read', handler: on(runSystemCommand) },
];
