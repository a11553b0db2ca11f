/**
 * A print-time and filament estimate from the moves themselves, for files whose slicer wrote none.
 * The model (deliberately simple, constant memory, one pass):
 *  - each G0/G1/G2/G3 move runs a trapezoid: accelerate at `a` from its entry speed to its feedrate F,
 *    cruise, decelerate to its exit speed; `a` is the last M204 (P or S for printing moves, T for
 *    travel) or 1500 mm/s², the feedrate is capped per axis by M203;
 *  - the speed at the joint of two moves is min(both speeds) × cos(angle between them), never below
 *    JERK (a classic jerk allowance): straight lines flow through, corners slow down. This needs one
 *    move of look-ahead: a move is timed when the next one arrives;
 *  - arcs (G2/G3 with I/J) count their arc length; G4 dwells count; heating waits do not (unknown).
 * Filament is the net extrusion (E moves summed, G92 resets followed), in mm. No Node imports.
 */

const DEFAULT_ACCEL = 1500;
const JERK = 10;

/** A move waiting for its successor: length, speed, acceleration, unit direction. d = 0: none. */
interface Move { d: number; v: number; a: number; ux: number; uy: number; uz: number }
interface Delta { dx: number; dy: number; dz: number; de: number }

export class MoveEstimator {
  private pos = { X: 0, Y: 0, Z: 0, E: 0 };
  private absolute = true;
  private absoluteE = true;
  private inch = 1;
  private feed = 1500 / 60;
  private accelPrint = DEFAULT_ACCEL;
  private accelTravel = DEFAULT_ACCEL;
  private maxFeed = { X: Infinity, Y: Infinity, Z: Infinity, E: Infinity };
  private pending: Move = { d: 0, v: 0, a: 0, ux: 0, uy: 0, uz: 0 };
  private delta: Delta = { dx: 0, dy: 0, dz: 0, de: 0 };
  private entry = 0;
  private seconds = 0;
  private extruded = 0;
  /** Z of the first move that extrudes: the first layer's height when no slicer said so. */
  firstLayerZ: number | null = null;

  /** Feeds one command (comment already removed). Runs for every line of every upload: no regex, few allocations. */
  command(cmd: string): void {
    const word = commandWord(cmd);
    if (word === '') return;
    if (word === 'G1' || word === 'G0') this.linear(args(cmd));
    else if (word === 'G2' || word === 'G3') this.arc(args(cmd), word === 'G2');
    else if (word === 'G4') this.dwell(args(cmd));
    else if (word === 'G90') { this.absolute = true; this.absoluteE = true; }
    else if (word === 'G91') { this.absolute = false; this.absoluteE = false; }
    else if (word === 'M82') this.absoluteE = true;
    else if (word === 'M83') this.absoluteE = false;
    else if (word === 'G20') this.inch = 25.4;
    else if (word === 'G21') this.inch = 1;
    else if (word === 'G92') this.setPosition(args(cmd));
    else if (word === 'M204') this.accel(args(cmd));
    else if (word === 'M203') this.feedLimits(args(cmd));
  }

  /** Seconds and net filament (mm) of everything fed so far. */
  result(): { seconds: number; filamentMm: number } {
    this.flush(0);
    return { seconds: this.seconds, filamentMm: this.extruded };
  }

  /** Moves the position to the target of `a`; the change lands in this.delta (reused: no garbage per line). */
  private target(a: Args): Delta {
    const p = this.pos; const d = this.delta;
    d.dx = this.axis(a.X, p.X, this.absolute) - p.X;
    d.dy = this.axis(a.Y, p.Y, this.absolute) - p.Y;
    d.dz = this.axis(a.Z, p.Z, this.absolute) - p.Z;
    d.de = this.axis(a.E, p.E, this.absoluteE) - p.E;
    p.X += d.dx; p.Y += d.dy; p.Z += d.dz; p.E += d.de;
    return d;
  }

  private axis(value: number | undefined, now: number, absolute: boolean): number {
    return value === undefined ? now : (absolute ? 0 : now) + value * this.inch;
  }

  private linear(a: Args): void {
    if (a.F !== undefined && a.F > 0) this.feed = (a.F * this.inch) / 60;
    const { dx, dy, dz, de } = this.target(a);
    this.extrusion(de);
    const xyz = Math.sqrt(dx * dx + dy * dy + dz * dz); // Math.hypot is several times slower, and this runs per line
    if (this.firstLayerZ === null && de > 0 && xyz > 0) this.firstLayerZ = this.pos.Z;
    const d = xyz > 0 ? xyz : Math.abs(de);
    if (d === 0 || !Number.isFinite(d)) return;
    const k = xyz > 0 ? 1 / xyz : 0;
    this.add(d, this.capped(dx, dy, dz, de, d), de > 0 && xyz > 0 ? this.accelPrint : this.accelTravel, dx * k, dy * k, dz * k);
  }

  private arc(a: Args, clockwise: boolean): void {
    if (a.F !== undefined && a.F > 0) this.feed = (a.F * this.inch) / 60;
    const cx = this.pos.X + (a.I ?? 0) * this.inch; const cy = this.pos.Y + (a.J ?? 0) * this.inch;
    const sx = this.pos.X; const sy = this.pos.Y;
    const { dx, dy, dz, de } = this.target(a);
    this.extrusion(de);
    const r = Math.hypot(sx - cx, sy - cy);
    let sweep = Math.atan2(sy + dy - cy, sx + dx - cx) - Math.atan2(sy - cy, sx - cx);
    if (clockwise && sweep >= 0) sweep -= 2 * Math.PI;
    if (!clockwise && sweep <= 0) sweep += 2 * Math.PI;
    const d = Math.hypot(Math.abs(sweep) * r, dz);
    if (!(d > 0) || !Number.isFinite(d)) return;
    // The direction at the joint is approximated by the chord: good enough for a junction speed.
    const chord = Math.sqrt(dx * dx + dy * dy + dz * dz) || 1;
    this.add(d, this.feed, this.accelPrint, dx / chord, dy / chord, dz / chord);
  }

  private extrusion(de: number): void { if (Number.isFinite(de)) this.extruded += de; }

  private feedLimits(a: Args): void {
    for (const k of ['X', 'Y', 'Z', 'E'] as const) if (a[k] !== undefined && a[k] > 0) this.maxFeed[k] = a[k];
  }

  /** The commanded speed, lowered so that no axis exceeds its M203 maximum. */
  private capped(dx: number, dy: number, dz: number, de: number, d: number): number {
    const m = this.maxFeed;
    return Math.min(this.feed, limit(m.X, dx, d), limit(m.Y, dy, d), limit(m.Z, dz, d), limit(m.E, de, d));
  }

  private dwell(a: Args): void {
    this.flush(0);
    this.seconds += a.S !== undefined ? a.S : (a.P ?? 0) / 1000;
  }

  private setPosition(a: Args): void {
    const none = a.X === undefined && a.Y === undefined && a.Z === undefined && a.E === undefined;
    for (const k of ['X', 'Y', 'Z', 'E'] as const) if (none || a[k] !== undefined) this.pos[k] = (a[k] ?? 0) * this.inch;
  }

  private accel(a: Args): void {
    const print = a.P ?? a.S;
    if (print !== undefined && print > 0) this.accelPrint = print;
    const travel = a.T ?? a.S;
    if (travel !== undefined && travel > 0) this.accelTravel = travel;
  }

  /** Times the pending move now that its successor (and so its exit speed) is known; the successor becomes pending. */
  private add(d: number, v: number, a: number, ux: number, uy: number, uz: number): void {
    const p = this.pending;
    if (p.d > 0) {
      const cos = p.ux * ux + p.uy * uy + p.uz * uz;
      this.flush(Math.max(Math.min(JERK, p.v, v), Math.min(p.v, v) * cos));
    }
    p.d = d; p.v = v; p.a = a; p.ux = ux; p.uy = uy; p.uz = uz;
  }

  private flush(exit: number): void {
    const m = this.pending;
    const d = m.d;
    if (!(d > 0)) return;
    m.d = 0;
    const u = Math.min(this.entry, m.v);
    // What this move can reach from its entry speed within its length: an exit speed above it is not possible.
    const w = Math.min(exit, m.v, Math.sqrt(u * u + 2 * m.a * d));
    this.seconds += trapezoid(d, u, m.v, w, m.a);
    this.entry = w;
  }
}

/** The speed along a move at which one axis (share `delta` of length `d`) reaches its maximum. */
const limit = (max: number, delta: number, d: number) => (delta === 0 || max === Infinity ? Infinity : (max * d) / Math.abs(delta));

/** Seconds to travel d mm from speed u to w, cruising at most at v, with acceleration a. */
function trapezoid(d: number, u: number, v: number, w: number, a: number): number {
  const accel = (v * v - u * u) / (2 * a);
  const decel = (v * v - w * w) / (2 * a);
  if (accel + decel <= d) return (v - u) / a + (v - w) / a + (d - accel - decel) / v;
  const peak = Math.max(u, w, Math.sqrt((2 * a * d + u * u + w * w) / 2));
  return (peak - u) / a + (peak - w) / a;
}

/** "G1", "M204" … upper-cased, or '' for anything but a G or M word. */
function commandWord(cmd: string): string {
  const c = cmd.charCodeAt(0) | 0x20;
  if (c !== 0x67 && c !== 0x6d) return ''; // g or m
  let i = 1;
  while (i < cmd.length && cmd.charCodeAt(i) >= 0x30 && cmd.charCodeAt(i) <= 0x39) i++;
  if (i === 1) return '';
  return (c === 0x67 ? 'G' : 'M') + cmd.slice(1, i);
}

type Args = Record<'X' | 'Y' | 'Z' | 'E' | 'F' | 'I' | 'J' | 'P' | 'S' | 'T', number | undefined>;


/**
 * The letter arguments after the command word ("X10.5 Y-3 E.2"). Hand-rolled (char codes, a fixed-shape
 * result): this runs for every move of every upload, and a regex or Number(slice) per argument made the
 * upload check several times slower.
 */
const scratch: Args = { X: undefined, Y: undefined, Z: undefined, E: undefined, F: undefined, I: undefined, J: undefined, P: undefined, S: undefined, T: undefined };

/** Valid until the next call (one shared object: every caller reads it at once). */
function args(cmd: string): Args {
  const out = scratch;
  out.X = out.Y = out.Z = out.E = out.F = out.I = out.J = out.P = out.S = out.T = undefined;
  const n = cmd.length;
  let i = 1;
  while (i < n && isDigit(cmd.charCodeAt(i))) i++;
  while (i < n) {
    const letter = cmd.charCodeAt(i++) & ~0x20;
    if (letter < 0x45 || letter > 0x5a) continue; // E … Z
    while (i < n && cmd.charCodeAt(i) === 0x20) i++;
    let sign = 1;
    if (cmd.charCodeAt(i) === 0x2d) { sign = -1; i++; }
    let value = 0; let digits = 0; let scale = 0;
    for (; i < n; i++) {
      const ch = cmd.charCodeAt(i);
      if (isDigit(ch)) { value = value * 10 + (ch - 0x30); digits++; if (scale) scale *= 10; } else if (ch === 0x2e && !scale) scale = 1; else break;
    }
    if (digits) put(out, letter, (sign * value) / (scale || 1));
  }
  return out;
}

const isDigit = (ch: number) => ch >= 0x30 && ch <= 0x39;

/** A switch, not out[name]: stores to fixed properties stay fast. */
function put(out: Args, code: number, v: number): void {
  switch (code) {
    case 0x58: out.X = v; break;
    case 0x59: out.Y = v; break;
    case 0x5a: out.Z = v; break;
    case 0x45: out.E = v; break;
    case 0x46: out.F = v; break;
    case 0x49: out.I = v; break;
    case 0x4a: out.J = v; break;
    case 0x50: out.P = v; break;
    case 0x53: out.S = v; break;
    case 0x54: out.T = v; break;
  }
}
