/**
 * Test helpers for the printer service: a virtual printer on a real pty in a private temp dir, an
 * in-process PrinterManager wired exactly like main.ts, and waiting for events.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileStore } from '../../services/shared/files.ts';
import type { PrinterEvent } from '../../services/shared/ipc.ts';
import { createLogger } from '../../services/shared/log.ts';
import { JobStore, type JobRecord } from '../../services/printer/jobs/job-store.ts';
import { PrinterManager } from '../../services/printer/manager.ts';
import { openSerialPort } from '../../services/printer/serial/port.ts';
import { VirtualPrinter, type VirtualPrinterOptions } from '../../services/printer/virtual/virtual-printer.ts';

export { VirtualPrinter };

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `printbox-${prefix}-`));
}

/** A G-code file of n extrusion moves with distinct coordinates (order errors are visible). */
export function gcodeLines(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `G1 X${(i % 200) + 0.5} Y${Math.floor(i / 200) % 200} E${(i * 0.0123).toFixed(4)}`);
}

export interface Rig {
  dir: string;
  vp: VirtualPrinter;
  manager: PrinterManager;
  files: FileStore;
  store: JobStore;
  events: PrinterEvent[];
  waitFor<T>(fn: () => T | undefined | false, timeoutMs?: number, what?: string): Promise<T>;
  /** Waits until the job of printer `id` is no longer printing (done, failed, cancelled or paused). */
  jobEnd(id: string, timeoutMs?: number): Promise<JobRecord>;
  /** Resumes the paused job of printer `id`, waits until it is done (asserted) and returns the commands
   *  the firmware ran since the resume; the lowest head height (sim.physical.minZ) is tracked from the resume on. */
  resumeToEnd(id: string): Promise<string[]>;
  close(): Promise<void>;
}

/** Polls fn every 25 ms until it returns something truthy (the rigs' waitFor). */
export async function waitFor<T>(fn: () => T | undefined | false, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function createRig(sim: Partial<VirtualPrinterOptions>, printer: { okTimeoutMs?: number; resumeTimeoutMs?: number; probeTimeoutMs?: number } = {}): Promise<Rig> {
  const dir = tempDir('rig');
  const link = path.join(dir, 'vp-1');
  const vp = await VirtualPrinter.create({ link, record: true, ...sim });
  const files = new FileStore(path.join(dir, 'files'));
  await files.init();
  const store = await JobStore.open(path.join(dir, 'printer.db'));
  const log = createLogger({ scope: 'test', level: process.env.PRINTBOX_TEST_DEBUG ? 'debug' : 'error' });
  const manager = new PrinterManager({
    discovery: { byIdDir: path.join(dir, 'no-usb'), extra: [path.join(dir, 'vp-*')], log, list: async () => [] },
    baudrates: [sim.baud ?? 115200], openPort: openSerialPort, store, files, log,
    printer: { okTimeoutMs: printer.okTimeoutMs ?? 1000, probeTimeoutMs: printer.probeTimeoutMs ?? 3000, ...(printer.resumeTimeoutMs ? { resumeTimeoutMs: printer.resumeTimeoutMs } : {}) },
  });
  const events: PrinterEvent[] = [];
  manager.events.on('event', (e) => events.push(e));
  await manager.start();
  const jobEnd = (id: string, timeoutMs = 40_000) => waitFor(() => { const j = manager.get(id).job; return j && j.state !== 'printing' && j; }, timeoutMs, `${id}: job end`);
  return {
    dir, vp, manager, files, store, events, waitFor, jobEnd,
    async resumeToEnd(id) {
      const cut = vp.sim.executed.length;
      vp.sim.physical.minZ = Infinity;
      await manager.get(id).resume();
      const job = await jobEnd(id);
      assert.equal(job.state, 'done', `${id}: the resumed job finished`);
      return vp.sim.executed.slice(cut);
    },
    close: async () => { await manager.stop(); await vp.close(); await store.close(); fs.rmSync(dir, { recursive: true, force: true }); },
  };
}
