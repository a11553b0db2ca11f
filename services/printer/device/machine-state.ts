/**
 * What the G-code stream has told the machine so far (positions, modes, temperatures, fan), updated
 * from acknowledged job lines only. This is the resume point: after a pause, unplug or crash we know
 * where the nozzle was and what to re-establish without asking a printer that may have been reset.
 */
import { arg, commandWord } from '../../shared/gcode.ts';
import type { ResumePoint } from '../jobs/job-store.ts';

export class MachineState {
  x: number | null = null; y: number | null = null; z: number | null = null; e: number | null = null;
  relative = false; relativeE = false; hotend = 0; bed = 0; fan = 0; feedrate: number | null = null;

  static from(r: ResumePoint): MachineState {
    const m = new MachineState();
    Object.assign(m, { x: r.x, y: r.y, z: r.z, e: r.e, relativeE: r.relativeE, hotend: r.hotend, bed: r.bed, fan: r.fan, feedrate: r.feedrate });
    return m;
  }

  apply(cmd: string): void {
    const w = commandWord(cmd);
    switch (w) {
      case 'G0': case 'G1': case 'G2': case 'G3': {
        const f = arg(cmd, 'F'); if (f !== undefined) this.feedrate = f;
        for (const a of ['x', 'y', 'z'] as const) {
          const v = arg(cmd, a.toUpperCase());
          if (v !== undefined) this[a] = this.relative ? (this[a] ?? 0) + v : v;
        }
        const e = arg(cmd, 'E');
        if (e !== undefined) this.e = this.relativeE ? (this.e ?? 0) + e : e;
        break;
      }
      case 'G92': for (const a of ['x', 'y', 'z', 'e'] as const) { const v = arg(cmd, a.toUpperCase()); if (v !== undefined) this[a] = v; } break;
      case 'G28': this.x = 0; this.y = 0; this.z = 0; break;
      case 'G90': this.relative = false; this.relativeE = false; break;
      case 'G91': this.relative = true; this.relativeE = true; break;
      case 'M82': this.relativeE = false; break;
      case 'M83': this.relativeE = true; break;
      case 'M104': case 'M109': this.hotend = arg(cmd, 'S') ?? this.hotend; break;
      case 'M140': case 'M190': this.bed = arg(cmd, 'S') ?? this.bed; break;
      case 'M106': this.fan = arg(cmd, 'S') ?? 255; break;
      case 'M107': this.fan = 0; break;
      default: break;
    }
  }

  point(index: number, byteOffset: number): ResumePoint {
    return { index, byteOffset, x: this.x, y: this.y, z: this.z, e: this.e, relativeE: this.relativeE, hotend: this.hotend, bed: this.bed, fan: this.fan, feedrate: this.feedrate };
  }
}

export interface ParkSettings { retract: number; lift: number }

/**
 * Pause: retract and lift where we are ("park: retract + lift, position recorded"). M400 last: its
 * `ok` comes only once the moves are finished, so an acknowledged park means the head really is up.
 */
export const parkCommands = (p: ParkSettings, s: ResumePoint): string[] =>
  ['G91', `G1 E-${p.retract} F2400`, `G1 Z${p.lift} F600`, 'G90', ...(s.relativeE ? ['M83'] : []), 'M400'];

/** Resume after our own park: undo it exactly. */
export const unparkCommands = (p: ParkSettings, s: ResumePoint): string[] =>
  ['G91', `G1 Z-${p.lift} F600`, `G1 E${p.retract} F2400`, 'G90', ...(s.relativeE ? ['M83'] : [])];

/**
 * The core of every recovery after a board reset: heat, home X/Y only (homing Z would hit the print),
 * trust the recorded Z, restore E, modes, fan and position. Used at a height where homing X/Y is safe.
 */
export function recoverCommands(s: ResumePoint): string[] {
  const out: string[] = [];
  if (s.bed > 0) out.push(`M140 S${s.bed}`);
  if (s.hotend > 0) out.push(`M104 S${s.hotend}`);
  if (s.bed > 0) out.push(`M190 S${s.bed}`);
  if (s.hotend > 0) out.push(`M109 S${s.hotend}`);
  out.push('G28 X Y', 'G90');
  const g92 = [s.z !== null ? `Z${s.z}` : '', s.e !== null && !s.relativeE ? `E${s.e}` : 'E0'].filter(Boolean).join(' ');
  out.push(`G92 ${g92}`);
  out.push(s.relativeE ? 'M83' : 'M82');
  if (s.fan > 0) out.push(`M106 S${s.fan}`);
  if (s.x !== null && s.y !== null) out.push(`G1 X${s.x} Y${s.y} F3000`);
  if (s.feedrate !== null) out.push(`G1 F${s.feedrate}`);
  return out;
}

/**
 * Resume after the board was reset with the head down on the print (unplug, crash, watchdog mid-print) or
 * while the park moves were in flight (reset-while-parking: the lift may or may not have happened — a G1's
 * `ok` means planned, not moved, and oks still in flight die with the reset). Either way assume the lowest
 * the head can be, the print height: no move can then drive the nozzle into the print; after an unconfirmed
 * park it is at worst up to `lift` higher and the next layer is laid in the air (visible), never a crash.
 * Lift first (relative moves need no homing) so homing X/Y does not drag the nozzle across the print — as
 * Marlin's own power-loss recovery does — recover at that height, travel back, then lower by the same amount
 * (relative, so it is exact even when the file never set Z). E is assumed not retracted.
 */
export function recoverRaisedCommands(p: ParkSettings, s: ResumePoint): string[] {
  const lifted: ResumePoint = { ...s, z: s.z === null ? null : s.z + p.lift, feedrate: null };
  return ['G91', `G1 Z${p.lift} F600`, 'G90', ...recoverCommands(lifted),
    'G91', `G1 Z-${p.lift} F600`, 'G90', ...(s.relativeE ? ['M83'] : []), ...(s.feedrate !== null ? [`G1 F${s.feedrate}`] : [])];
}

/**
 * Resume a parked job after the board was reset (reconnect while paused): the head is still lifted and
 * the filament retracted, but the firmware forgot everything. Recover at the parked height, then undo
 * the park exactly as unparkCommands would.
 */
export function recoverParkedCommands(p: ParkSettings, s: ResumePoint): string[] {
  const parked: ResumePoint = { ...s, z: s.z === null ? null : s.z + p.lift, e: s.e === null || s.relativeE ? s.e : s.e - p.retract, feedrate: null };
  return [...recoverCommands(parked), ...unparkCommands(p, s), ...(s.feedrate !== null ? [`G1 F${s.feedrate}`] : [])];
}
