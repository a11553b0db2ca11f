/**
 * Filament a job pushed through the nozzle, counted from the G-code lines the firmware acknowledged —
 * not the slicer's estimate, so a cancelled or failed print reports what it really used.
 *
 * E follows Marlin's rules: absolute unless M83 or G91 (G90 and M82 make it absolute again), G92 E sets
 * the position without moving, and a G92 without E leaves it alone. What counts is the furthest the
 * filament has been pushed, as OctoPrint's analysis measures it (util/gcodeInterpreter.py, maxExtrusion):
 * a retraction and the un-retraction after it cancel out instead of counting twice, and a final
 * retraction does not give filament back. No Node imports.
 */
import { arg, commandWord } from '../../shared/gcode.ts';

/** Everything needed to go on counting after a restart (stored with the job's checkpoints). */
export interface ExtrusionState {
  /** The E position the firmware has now (absolute mode's reference). */
  e: number;
  relative: boolean;
  /** Net length pushed so far: forward moves minus retractions, across G92 resets. */
  total: number;
  /** The largest `total` reached: the filament used. */
  max: number;
}

export class FilamentCounter {
  private s: ExtrusionState = { e: 0, relative: false, total: 0, max: 0 };

  /** Continues from a stored state; a missing or malformed one starts from zero. */
  static from(state: Partial<ExtrusionState> | undefined): FilamentCounter {
    const c = new FilamentCounter();
    const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
    if (state) c.s = { e: num(state.e), relative: state.relative === true, total: num(state.total), max: num(state.max) };
    return c;
  }

  apply(cmd: string): void {
    switch (commandWord(cmd)) {
      case 'G0': case 'G1': case 'G2': case 'G3': {
        const v = arg(cmd, 'E');
        if (v === undefined || !Number.isFinite(v)) return;
        const delta = this.s.relative ? v : v - this.s.e;
        this.s.e = this.s.relative ? this.s.e + v : v;
        this.s.total += delta;
        if (this.s.total > this.s.max) this.s.max = this.s.total;
        return;
      }
      case 'G92': { const v = arg(cmd, 'E'); if (v !== undefined && Number.isFinite(v)) this.s.e = v; return; }
      case 'G90': case 'M82': this.s.relative = false; return;
      case 'G91': case 'M83': this.s.relative = true; return;
      default: return;
    }
  }

  /** Millimetres used, to the micrometre (sums of thousands of decimal moves carry float noise). */
  get used(): number { return Math.round(this.s.max * 1000) / 1000; }

  state(): ExtrusionState { return { ...this.s }; }
}
