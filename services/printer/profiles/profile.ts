/**
 * Printer profiles: defaults from what the firmware told us, and validation of a user's edit as a list of
 * problems (DESIGN.md "Config = schema + defaults + validate(): string[]"). Speeds are OctoPrint's default
 * profile's (octoprint/printer/profile.py); temperature limits are Marlin's usual HEATER_*_MAXTEMP minus
 * its 15 °C safety margin, so a target the firmware would reject anyway is refused with a message instead.
 */
import type { PrinterProfile } from '../../shared/ipc.ts';

/** What the printer reported: EXTRUDER_COUNT from M115 and the heaters in its temperature reports. */
export interface FirmwareFacts { extruders: number; heaters: string[] }

export function defaultProfile(f: FirmwareFacts): PrinterProfile {
  const tools = f.heaters.filter((h) => /^T\d+$/.test(h)).length;
  return {
    volume: { width: 200, depth: 200, height: 200 },
    axes: { x: { speed: 6000, inverted: false }, y: { speed: 6000, inverted: false }, z: { speed: 200, inverted: false }, e: { speed: 300, inverted: false } },
    extruders: Math.max(1, f.extruders, tools),
    // Before the first temperature report nothing is known: assume the common case, a heated bed.
    heatedBed: f.heaters.length === 0 || f.heaters.includes('B'),
    heatedChamber: f.heaters.includes('C'),
    minExtrudeTemp: 170,
    maxTemp: { hotend: 285, bed: 110, chamber: 70 },
    jogSteps: [0.1, 1, 10, 100],
    presets: [{ name: 'PLA', hotend: 200, bed: 60 }, { name: 'PETG', hotend: 235, bed: 80 }, { name: 'ABS', hotend: 245, bed: 100 }],
  };
}

type Problems = string[];
const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

function number(errors: Problems, where: string, v: unknown, min: number, max: number, integer = false): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    errors.push(`${where} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}`);
  }
}

function flag(errors: Problems, where: string, v: unknown): void {
  if (typeof v !== 'boolean') errors.push(`${where} must be true or false`);
}

const KEYS: ReadonlyArray<keyof PrinterProfile> = ['volume', 'axes', 'extruders', 'heatedBed', 'heatedChamber', 'minExtrudeTemp', 'maxTemp', 'jogSteps', 'presets'];

/** Unknown top-level keys are errors too: a typo ("heatedbed") must not be silently ignored. */
export function unknownKeys(edit: Record<string, unknown>): Problems {
  return Object.keys(edit).filter((k) => !(KEYS as readonly string[]).includes(k)).map((k) => `${k} is not a profile field`);
}

/** Every problem of a complete profile, as sentences naming the field; [] when it is usable. */
export function validateProfile(p: PrinterProfile): Problems {
  const e: Problems = [];
  const u = p as unknown as Record<string, unknown>;
  if (!isObj(u.volume)) e.push('volume must be an object with width, depth and height');
  else for (const k of ['width', 'depth', 'height'] as const) number(e, `volume.${k}`, p.volume[k], 1, 2000);
  if (!isObj(u.axes)) e.push('axes must be an object with x, y, z and e');
  else {
    for (const a of ['x', 'y', 'z', 'e'] as const) {
      const axis = (u.axes as Record<string, unknown>)[a];
      if (!isObj(axis)) { e.push(`axes.${a} must be an object with speed and inverted`); continue; }
      number(e, `axes.${a}.speed`, axis.speed, 1, 60_000);
      flag(e, `axes.${a}.inverted`, axis.inverted);
    }
  }
  number(e, 'extruders', p.extruders, 1, 8, true);
  flag(e, 'heatedBed', p.heatedBed);
  flag(e, 'heatedChamber', p.heatedChamber);
  number(e, 'minExtrudeTemp', p.minExtrudeTemp, 0, 300);
  if (!isObj(u.maxTemp)) e.push('maxTemp must be an object with hotend, bed and chamber');
  else for (const k of ['hotend', 'bed', 'chamber'] as const) number(e, `maxTemp.${k}`, p.maxTemp[k], 0, 500);
  if (!Array.isArray(p.jogSteps) || p.jogSteps.length < 1 || p.jogSteps.length > 8) e.push('jogSteps must list 1 to 8 step sizes');
  else p.jogSteps.forEach((s, i) => number(e, `jogSteps[${i}]`, s, 0.01, 1000));
  if (!Array.isArray(p.presets) || p.presets.length > 12) e.push('presets must be a list of at most 12 presets');
  else p.presets.forEach((preset, i) => presetProblems(e, `presets[${i}]`, preset, p));
  return e;
}

function presetProblems(e: Problems, where: string, preset: unknown, p: PrinterProfile): void {
  if (!isObj(preset)) { e.push(`${where} must be an object with name, hotend and bed`); return; }
  if (typeof preset.name !== 'string' || !/^[\p{L}\p{N} ._+-]{1,24}$/u.test(preset.name)) e.push(`${where}.name must be 1 to 24 letters, digits, spaces or . _ + -`);
  const max = isObj(p.maxTemp) ? p.maxTemp : { hotend: 500, bed: 500, chamber: 500 };
  number(e, `${where}.hotend`, preset.hotend, 0, max.hotend);
  number(e, `${where}.bed`, preset.bed, 0, max.bed);
  if (preset.chamber !== undefined) number(e, `${where}.chamber`, preset.chamber, 0, max.chamber);
}
