/**
 * Layer changes as the printer confirms them: a layer starts with the first extruding move at a height other
 * than the last extruding move's. Travel at another height (Z-hop, a park's lift) extrudes nothing and does
 * not count, nor do retractions; so a timelapse taken per layer catches the print between layers, not mid-hop,
 * whatever the slicer writes in its comments (which the job reader strips anyway).
 */
import { arg, commandWord } from '../../shared/gcode.ts';
import type { MachineState } from '../device/machine-state.ts';

const MOVES = new Set(['G0', 'G1', 'G2', 'G3']);

export class LayerTracker {
  layer = 0;
  private z: number | null = null;

  /** After `m` applied `cmd` (eBefore: its E before): the new layer's number when this move began one. */
  next(cmd: string, eBefore: number | null, m: MachineState): number | undefined {
    if (!MOVES.has(commandWord(cmd)) || m.z === null || m.e === null) return undefined;
    const extrudes = eBefore === null ? (arg(cmd, 'E') ?? 0) > 0 : m.e > eBefore;
    if (!extrudes || (this.z !== null && Math.abs(m.z - this.z) < 1e-6)) return undefined;
    this.z = m.z;
    return ++this.layer;
  }
}
