/**
 * `npm run bench`: the same G-code file streamed through PrintBox's sender, through Printrun's pronsole
 * and through a one-line-in-flight sender (OctoPrint's model, bench/sender-peers.ts) to the virtual Marlin
 * on a real pty at 115200 and 250000 baud, 15 ms firmware latency, ADVANCED_OK on and off. Prints lines/s,
 * the PrintBox/peer ratios, the fraction of wire rate (numbered-line bytes × 10 bits / baud) and each
 * sender process's CPU time per 10 000 lines. Targets: ≥ 90% wire rate with ADVANCED_OK, ≥ 3× pronsole,
 * less CPU per line than printcore.
 * It also prints the bound no overflow-safe sender can beat (see safeBound) and PrintBox's share of it, because
 * with Marlin's default BUFSIZE 4 at 250000 baud that bound is below 90% of the wire.
 * Then the upload and metadata benchmark (bench/upload.ts), login under load (bench/login.ts), the camera
 * proxy (bench/camera.ts) and streaming while a timelapse is encoded (bench/timelapse.ts).
 * `npm run bench -- sender`, `-- upload`, `-- login`, `-- camera` or `-- timelapse` runs one part.
 * Env (bench only): BENCH_LINES (default 1500), BENCH_SKIP_PRONSOLE=1 (skips both peers).
 */
import { numbered } from '../services/printer/protocol/gcode.ts';
import { cameraBench } from './camera.ts';
import { loginBench } from './login.ts';
import { printbox } from './printbox-run.ts';
import { formatRow, runPeer, type Config } from './sender-peers.ts';
import { timelapseBench } from './timelapse.ts';
import { uploadBench } from './upload.ts';

const LINES = Number(process.env.BENCH_LINES ?? 1500);
// Slicer-like extrusion moves (~40 bytes numbered, the size DESIGN.md's wire figures assume).
const file = Array.from({ length: LINES }, (_, i) =>
  `G1 X${(110 + 60 * Math.sin(i / 40)).toFixed(3)} Y${(110 + 60 * Math.cos(i / 40)).toFixed(3)} E${(i * 0.03125).toFixed(5)}`);
const avgWireBytes = file.reduce((a, c, i) => a + numbered(i + 1, c).length, 0) / LINES;

/**
 * Lines/s that no sender which never overflows the firmware can exceed. The firmware holds `slots` parsed
 * commands plus 127 RX bytes; the sender only learns that room was freed when an `ok` arrives, one line time
 * + latency + the ok's own wire time after it sent. Without ADVANCED_OK the buffer size is unknown, so a safe
 * sender may count on one slot only. Overflowing instead is not an option: a run of dropped bytes whose XOR is
 * zero passes Marlin's 8-bit checksum, and the printer executes a corrupted move.
 */
function safeBound(c: Config, lineBytes: number): number {
  const slots = c.adv ? c.bufsize : 1;
  const okBytes = c.adv ? 'ok N1500 P15 B3\n'.length : 'ok\n'.length;
  const roundTripS = c.latency / 1000 + ((lineBytes + okBytes) * 10) / c.baud;
  // Only whole lines can be sent: 127 RX bytes hold 3 lines of 38.6 bytes, not 3.3.
  return Math.min(c.baud / 10 / lineBytes, (slots + Math.floor(127 / lineBytes)) / roundTripS);
}

// The matrix (15 ms firmware latency), plus two rows that show what moves the bound: a larger BUFSIZE,
// and the 1 ms reply latency of an FTDI adapter in low-latency mode (which PrintBox sets when it opens a port).
const configs: Config[] = [
  { baud: 115200, adv: true, bufsize: 4, latency: 15 }, { baud: 115200, adv: false, bufsize: 4, latency: 15 },
  { baud: 250000, adv: true, bufsize: 4, latency: 15 }, { baud: 250000, adv: false, bufsize: 4, latency: 15 },
  { baud: 250000, adv: true, bufsize: 16, latency: 15 }, { baud: 250000, adv: true, bufsize: 4, latency: 1 },
];
const parts = process.argv.slice(2);
const want = (part: string) => parts.length === 0 || parts.includes(part);
for (const c of want('sender') ? configs : []) {
  const pb = await printbox(c, file);
  const pr = process.env.BENCH_SKIP_PRONSOLE ? null : await runPeer('pronsole', c, file);
  const one = process.env.BENCH_SKIP_PRONSOLE ? null : await runPeer('one-line', c, file);
  process.stdout.write(formatRow(c, { wire: c.baud / 10 / avgWireBytes, bound: safeBound(c, avgWireBytes), pb, pr, one }));
}
if (want('sender')) process.stdout.write(`\n${LINES} lines, avg ${avgWireBytes.toFixed(1)} bytes/line on the wire, RX buffer 128 B\n`);
if (want('upload')) await uploadBench();
if (want('login')) await loginBench();
if (want('camera')) await cameraBench();
if (want('timelapse')) await timelapseBench(file);
process.exit(0);
