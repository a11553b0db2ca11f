/**
 * `npm run bench`: the same G-code file streamed through PrintBox's sender, through Printrun's pronsole
 * and through a one-line-in-flight sender (OctoPrint's model, bench/sender-peers.ts) to the virtual Marlin
 * on a real pty at 115200 and 250000 baud, 15 ms firmware latency, ADVANCED_OK on and off. Prints lines/s,
 * the PrintBox/peer ratios, the fraction of wire rate (numbered-line bytes × 10 bits / baud) and each
 * sender process's CPU time per 10 000 lines. Targets: ≥ 90% wire rate with ADVANCED_OK, ≥ 3× pronsole,
 * less CPU per line than printcore.
 * It also prints the bound no overflow-safe sender can beat (see safeBound) and PrintBox's share of it, because
 * with Marlin's default BUFSIZE 4 at 250000 baud that bound is below 90% of the wire.
 * Then the upload and metadata benchmark (bench/upload.ts) and login under load (bench/login.ts).
 * `npm run bench -- sender`, `-- upload` or `-- login` runs one part.
 * Env (bench only): BENCH_LINES (default 1500), BENCH_SKIP_PRONSOLE=1 (skips both peers).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { numbered } from '../services/printer/protocol/gcode.ts';
import { FileStore } from '../services/shared/files.ts';
import type { PrinterApi } from '../services/shared/ipc.ts';
import { IpcClient } from '../services/shared/ipc-transport.ts';
import { tempDir, VirtualPrinter } from '../test/helpers/virtual-printer.ts';
import { loginBench } from './login.ts';
import { cpuSeconds } from './proc.ts';
import { formatRow, runPeer, type Config, type SenderResult } from './sender-peers.ts';
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

/** PrintBox as deployed: the printer service in its own process, driven over printer.sock. */
async function printbox({ baud, adv, bufsize, latency }: Config): Promise<SenderResult> {
  const dir = tempDir('bench');
  const vp = await VirtualPrinter.create({ link: path.join(dir, 'vp-1'), baud, latencyMs: latency, advancedOk: adv, bufsize });
  const svc = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, '../services/printer/main.ts')], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PRINTBOX_DATA_DIR: path.join(dir, 'data'), PRINTBOX_RUN_DIR: path.join(dir, 'run'),
      PRINTBOX_SERIAL_PORTS: path.join(dir, 'vp-*'), PRINTBOX_BAUDRATES: String(baud), PRINTBOX_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  const client = new IpcClient<PrinterApi>({ path: path.join(dir, 'run', 'printer.sock'), service: 'printer' });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  try {
    for (let i = 0; ; i++) {
      try { if ((await client.call('printers.get', { id: 'vp-1' })).state === 'idle') break; } catch { /* starting */ }
      if (i > 300) throw new Error('printer service did not connect');
      await sleep(100);
    }
    await new FileStore(path.join(dir, 'data', 'files')).save('bench.gcode', file.join('\n') + '\n');
    // CPU counts the whole service, including answering this loop's jobs.get every 10 ms and its own M105 poll;
    // the same polling for 2 s while idle gives that share, printed beside the raw figure.
    const i0 = performance.now(); const idle0 = cpuSeconds(svc.pid!);
    while (performance.now() - i0 < 2000) { await client.call('jobs.get', { printerId: 'vp-1' }).catch(() => undefined); await sleep(10); }
    const idlePerS = (cpuSeconds(svc.pid!) - idle0) / ((performance.now() - i0) / 1000);
    const t0 = performance.now();
    const cpu0 = cpuSeconds(svc.pid!);
    await client.call('jobs.start', { printerId: 'vp-1', file: 'bench.gcode' });
    for (;;) {
      const j = await client.call('jobs.get', { printerId: 'vp-1' });
      if (j.state !== 'printing') { if (j.state !== 'done') throw new Error(`job ${j.state}`); break; }
      await sleep(10);
    }
    const seconds = (performance.now() - t0) / 1000;
    return { rate: LINES / seconds, cpu: cpuSeconds(svc.pid!) - cpu0, lines: LINES, idleCpu: idlePerS * seconds };
  } finally {
    svc.kill('SIGTERM');
    await new Promise((r) => (svc.exitCode !== null ? r(null) : svc.once('exit', r)));
    await vp.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
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
  const pb = await printbox(c);
  const pr = process.env.BENCH_SKIP_PRONSOLE ? null : await runPeer('pronsole', c, file);
  const one = process.env.BENCH_SKIP_PRONSOLE ? null : await runPeer('one-line', c, file);
  process.stdout.write(formatRow(c, { wire: c.baud / 10 / avgWireBytes, bound: safeBound(c, avgWireBytes), pb, pr, one }));
}
if (want('sender')) process.stdout.write(`\n${LINES} lines, avg ${avgWireBytes.toFixed(1)} bytes/line on the wire, RX buffer 128 B\n`);
if (want('upload')) await uploadBench();
if (want('login')) await loginBench();
process.exit(0);
