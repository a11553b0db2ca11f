/**
 * One print streamed by PrintBox as deployed — the printer service in its own process, driven over printer.sock —
 * to the virtual Marlin on a real pty: lines/s and the service's CPU (bench/bench.ts, bench/timelapse.ts).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { FileStore } from '../services/shared/files.ts';
import type { PrinterApi } from '../services/shared/ipc.ts';
import { IpcClient } from '../services/shared/ipc-transport.ts';
import { tempDir, VirtualPrinter } from '../test/helpers/virtual-printer.ts';
import { cpuSeconds } from './proc.ts';
import type { Config, SenderResult } from './sender-peers.ts';

/** PrintBox as deployed: the printer service in its own process, driven over printer.sock. */
export async function printbox({ baud, adv, bufsize, latency }: Config, file: string[]): Promise<SenderResult> {
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
    return { rate: file.length / seconds, cpu: cpuSeconds(svc.pid!) - cpu0, lines: file.length, idleCpu: idlePerS * seconds };
  } finally {
    svc.kill('SIGTERM');
    await new Promise((r) => (svc.exitCode !== null ? r(null) : svc.once('exit', r)));
    await vp.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
