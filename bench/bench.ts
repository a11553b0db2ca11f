/**
 * `npm run bench`: the same G-code file streamed through PrintBox's sender and through Printrun's
 * pronsole to the virtual Marlin on a real pty at 115200 and 250000 baud, 15 ms firmware latency,
 * ADVANCED_OK on and off. Prints lines/s, the PrintBox/pronsole ratio, and the fraction of wire rate
 * (numbered-line bytes × 10 bits / baud). Targets: ≥ 90% wire rate with ADVANCED_OK, ≥ 3× pronsole.
 * It also prints the bound no overflow-safe sender can beat (see safeBound) and PrintBox's share of it, because
 * with Marlin's default BUFSIZE 4 at 250000 baud that bound is below 90% of the wire.
 * Then the upload and metadata benchmark (bench/upload.ts). `npm run bench -- sender` or `-- upload` runs one part.
 * Env (bench only): BENCH_LINES (default 1500), BENCH_SKIP_PRONSOLE=1.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { numbered } from '../services/printer/protocol/gcode.ts';
import { FileStore } from '../services/shared/files.ts';
import type { PrinterApi } from '../services/shared/ipc.ts';
import { IpcClient } from '../services/shared/ipc-transport.ts';
import { tempDir, VirtualPrinter } from '../test/helpers/virtual-printer.ts';
import { uploadBench } from './upload.ts';

const LINES = Number(process.env.BENCH_LINES ?? 1500);
// Slicer-like extrusion moves (~40 bytes numbered, the size DESIGN.md's wire figures assume).
const file = Array.from({ length: LINES }, (_, i) =>
  `G1 X${(110 + 60 * Math.sin(i / 40)).toFixed(3)} Y${(110 + 60 * Math.cos(i / 40)).toFixed(3)} E${(i * 0.03125).toFixed(5)}`);
const avgWireBytes = file.reduce((a, c, i) => a + numbered(i + 1, c).length, 0) / LINES;

interface Config { baud: number; adv: boolean; bufsize: number; latency: number }

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
async function printbox({ baud, adv, bufsize, latency }: Config): Promise<number> {
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
    const t0 = performance.now();
    await client.call('jobs.start', { printerId: 'vp-1', file: 'bench.gcode' });
    for (;;) {
      const j = await client.call('jobs.get', { printerId: 'vp-1' });
      if (j.state !== 'printing') { if (j.state !== 'done') throw new Error(`job ${j.state}`); break; }
      await sleep(10);
    }
    return LINES / ((performance.now() - t0) / 1000);
  } finally {
    svc.kill('SIGTERM');
    await new Promise((r) => (svc.exitCode !== null ? r(null) : svc.once('exit', r)));
    await vp.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function pronsole({ baud, adv, bufsize, latency }: Config): Promise<number> {
  // Only the simulator: pronsole opens the port itself.
  const dir = tempDir('bench');
  const vp = await VirtualPrinter.create({ link: path.join(dir, 'vp-1'), baud, latencyMs: latency, advancedOk: adv, bufsize });
  const rig = { dir, vp };
  const gfile = path.join(rig.dir, 'bench.gcode');
  fs.writeFileSync(gfile, file.join('\n') + '\n');
  try {
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn('/usr/bin/python3', [path.join(import.meta.dirname, 'pronsole-driver.py'), rig.vp.link, String(baud), gfile], { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, HOME: rig.dir } });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
      const t = setTimeout(() => child.kill(), 600_000);
      child.on('exit', (code) => { clearTimeout(t); }); child.on('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`pronsole driver exited ${code}: ${stdout}`))));
    });
    const r = JSON.parse(out.slice(out.lastIndexOf('{"seconds"')).trim()) as { seconds: number; lines: number };
    return r.lines / r.seconds;
  } finally { await vp.close(); fs.rmSync(dir, { recursive: true, force: true }); }
}

// The matrix (15 ms firmware latency), plus two rows that show what moves the bound: a larger BUFSIZE,
// and the 1 ms reply latency of an FTDI adapter in low-latency mode (which PrintBox sets when it opens a port).
const configs: Config[] = [
  { baud: 115200, adv: true, bufsize: 4, latency: 15 }, { baud: 115200, adv: false, bufsize: 4, latency: 15 },
  { baud: 250000, adv: true, bufsize: 4, latency: 15 }, { baud: 250000, adv: false, bufsize: 4, latency: 15 },
  { baud: 250000, adv: true, bufsize: 16, latency: 15 }, { baud: 250000, adv: true, bufsize: 4, latency: 1 },
];
const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
const parts = process.argv.slice(2);
const want = (part: string) => parts.length === 0 || parts.includes(part);
for (const c of want('sender') ? configs : []) {
  const pb = await printbox(c);
  const pr = process.env.BENCH_SKIP_PRONSOLE ? null : await pronsole(c);
  const wire = c.baud / 10 / avgWireBytes;
  const bound = safeBound(c, avgWireBytes);
  process.stdout.write(`${c.baud} baud, ADVANCED_OK ${c.adv ? 'on ' : 'off'}, BUFSIZE ${String(c.bufsize).padStart(2)}, latency ${String(c.latency).padStart(2)} ms: ` +
    `PrintBox ${pb.toFixed(0).padStart(4)} lines/s = ${pct(pb / wire)} of wire ${wire.toFixed(0)}, ${pct(pb / bound)} of the safe bound ${bound.toFixed(0)}` +
    (pr === null ? '\n' : `; pronsole ${pr.toFixed(0).padStart(3)} lines/s (${pct(pr / wire)} of wire), ratio ${(pb / pr).toFixed(1)}×\n`));
}
if (want('sender')) process.stdout.write(`\n${LINES} lines, avg ${avgWireBytes.toFixed(1)} bytes/line on the wire, RX buffer 128 B\n`);
if (want('upload')) await uploadBench();
process.exit(0);
