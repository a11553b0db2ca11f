/**
 * The control panel's actions (ControlAction in services/shared/ipc.ts) as G-code, with the guards that need
 * what only the printer service knows: whether a job is running, the hotend temperatures, the profile.
 * Pure: Printer.control() queues what this returns. Every refusal happens before a byte is queued.
 */
import { AppError, badRequest, conflict } from '../../shared/errors.ts';
import { commandProblem } from '../../shared/gcode.ts';
import type { ControlAction, PrinterProfile, Temperatures } from '../../shared/ipc.ts';
import { toWire } from '../protocol/gcode.ts';

export interface ControlContext {
  profile: PrinterProfile;
  temperatures: Temperatures;
  /** A job is printing or paused: the head must stay where the file (or its resume) expects it. */
  jobActive: boolean;
}

/** The longest single extrusion or retraction (mm): a load/unload is done in steps, a typo of 1000 is refused. */
export const MAX_EXTRUDE_MM = 100;
/** Babystep per request (mm): Marlin's own LCD steps a few hundredths at a time. */
export const MAX_BABYSTEP_MM = 1;
/** M220/M221 percentages accepted; Marlin clamps to 10–999, anything past 500 % is a typo on a real print. */
export const RATE_RANGE = [10, 500] as const;
const MAX_MACRO_LINES = 100;

/** As G-code carries it: plain decimals, never an exponent (`X10`, `E-2.5`). */
const num = (v: number): string => (Number.isInteger(v) ? String(v) : String(Number(v.toFixed(5))));

function value(v: unknown, what: string, min: number, max: number, unit: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw badRequest('bad_request', `${what} must be a number`);
  if (v < min || v > max) throw badRequest('out_of_range', `${what} must be from ${min} to ${max}${unit}`);
  return v;
}

function notWhilePrinting(ctx: ControlContext, what: string): void {
  if (ctx.jobActive) throw conflict('printing', `Cannot ${what} while a print is running or paused: it would move the head away from the print. Cancel the print first.`);
}

const AXES = ['x', 'y', 'z'] as const;
const volumeOf = (p: PrinterProfile, a: (typeof AXES)[number]) => (a === 'x' ? p.volume.width : a === 'y' ? p.volume.depth : p.volume.height);

function feedrate(v: unknown, max: number): number {
  return v === undefined ? max : value(v, 'feedrate', 1, max, ' mm/min');
}

function home(ctx: ControlContext, a: Extract<ControlAction, { action: 'home' }>): string[] {
  notWhilePrinting(ctx, 'home');
  const axes = a.axes ?? [];
  if (!Array.isArray(axes) || axes.some((x) => !(AXES as readonly unknown[]).includes(x))) throw badRequest('bad_request', 'axes must list x, y and/or z');
  return [axes.length ? `G28 ${AXES.filter((x) => axes.includes(x)).map((x) => x.toUpperCase()).join(' ')}` : 'G28'];
}

function jog(ctx: ControlContext, a: Extract<ControlAction, { action: 'jog' }>): string[] {
  notWhilePrinting(ctx, 'jog');
  const p = ctx.profile;
  const moved = AXES.filter((x) => a[x] !== undefined);
  if (!moved.length) throw badRequest('bad_request', 'jog needs x, y and/or z');
  const words = moved.map((x) => {
    const v = value(a[x], x, -volumeOf(p, x), volumeOf(p, x), ' mm (the profile\'s build volume)');
    return `${x.toUpperCase()}${num(v)}`;
  });
  const f = feedrate(a.feedrate, Math.min(...moved.map((x) => p.axes[x].speed)));
  return ['G91', `G1 ${words.join(' ')} F${num(f)}`, 'G90'];
}

function extrude(ctx: ControlContext, a: Extract<ControlAction, { action: 'extrude' }>): string[] {
  notWhilePrinting(ctx, a.amount < 0 ? 'retract' : 'extrude');
  const p = ctx.profile;
  const amount = value(a.amount, 'amount', -MAX_EXTRUDE_MM, MAX_EXTRUDE_MM, ' mm');
  if (amount === 0) throw badRequest('out_of_range', 'amount must not be 0');
  const tool = a.tool === undefined ? 0 : value(a.tool, 'tool', 0, p.extruders - 1, '');
  if (!Number.isInteger(tool)) throw badRequest('bad_request', 'tool must be a whole number');
  const f = feedrate(a.feedrate, p.axes.e.speed);
  const t = ctx.temperatures[`T${tool}`];
  // Marlin refuses cold extrusion with only an "echo:cold extrusion prevented" nobody sees; say so up front.
  if (!t || t.actual < p.minExtrudeTemp) {
    const now = t ? `${Math.round(t.actual)} °C` : 'not reported';
    throw new AppError('cold_extrusion', 409, `Hotend T${tool} is ${now}; extruding needs at least ${p.minExtrudeTemp} °C. Heat it first.`);
  }
  return [...(p.extruders > 1 ? [`T${tool}`] : []), 'M83', `G1 E${num(amount)} F${num(f)}`, 'M82'];
}

function temperature(ctx: ControlContext, a: Extract<ControlAction, { action: 'temperature' }>): string[] {
  const p = ctx.profile;
  const heater = String(a.heater);
  const tool = /^T(\d)$/.exec(heater);
  if (tool) {
    const n = Number(tool[1]);
    if (n >= p.extruders) throw conflict('no_heater', `The profile has ${p.extruders} extruder${p.extruders > 1 ? 's' : ''}: there is no T${n}`);
    const t = value(a.target, 'target', 0, p.maxTemp.hotend, ' °C');
    return [p.extruders > 1 ? `M104 T${n} S${num(t)}` : `M104 S${num(t)}`];
  }
  if (heater === 'B' || heater === 'C') {
    const bed = heater === 'B';
    if (!(bed ? p.heatedBed : p.heatedChamber)) throw conflict('no_heater', `The profile has no heated ${bed ? 'bed' : 'chamber'}`);
    const t = value(a.target, 'target', 0, bed ? p.maxTemp.bed : p.maxTemp.chamber, ' °C');
    return [`${bed ? 'M140' : 'M141'} S${num(t)}`];
  }
  throw badRequest('bad_request', 'heater must be T0…T7, B (bed) or C (chamber)');
}

function gcode(ctx: ControlContext, a: Extract<ControlAction, { action: 'gcode' }>): string[] {
  if (!a.whilePrinting) notWhilePrinting(ctx, 'run this');
  if (!Array.isArray(a.lines) || a.lines.length === 0 || a.lines.length > MAX_MACRO_LINES) throw badRequest('bad_request', `lines must list 1 to ${MAX_MACRO_LINES} commands`);
  return a.lines.map((l, i) => {
    const problem = typeof l === 'string' ? commandProblem(toWire(l.trim())) : 'not a string';
    if (problem) throw badRequest('bad_gcode', `Line ${i + 1}: ${problem}`);
    return l;
  });
}

/** The G-code for `a`, or an AppError saying why not. */
export function controlCommands(ctx: ControlContext, a: ControlAction): string[] {
  switch (a?.action) {
    case 'home': return home(ctx, a);
    case 'jog': return jog(ctx, a);
    case 'extrude': return extrude(ctx, a);
    case 'temperature': return temperature(ctx, a);
    case 'fan': {
      const pct = value(a.percent, 'percent', 0, 100, ' %');
      return [pct === 0 ? 'M107' : `M106 S${Math.round((pct * 255) / 100)}`];
    }
    case 'feedrate': return [`M220 S${Math.round(value(a.percent, 'percent', ...RATE_RANGE, ' %'))}`];
    case 'flowrate': return [`M221 S${Math.round(value(a.percent, 'percent', ...RATE_RANGE, ' %'))}`];
    case 'babystep': {
      const z = value(a.z, 'z', -MAX_BABYSTEP_MM, MAX_BABYSTEP_MM, ' mm');
      if (z === 0) throw badRequest('out_of_range', 'z must not be 0');
      return [`M290 Z${num(z)}`];
    }
    case 'motorsOff': notWhilePrinting(ctx, 'turn the motors off'); return ['M18'];
    case 'gcode': return gcode(ctx, a);
    default: throw badRequest('bad_request', 'unknown control action');
  }
}
