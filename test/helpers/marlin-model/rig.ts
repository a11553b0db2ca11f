/**
 * The printer service's PrinterManager (wired as main.ts wires it, like createRig in ../virtual-printer.ts)
 * against the independent Marlin model on a pty instead of PrintBox's own simulator.
 */
import fs from 'node:fs';
import path from 'node:path';
import { FileStore } from '../../../services/shared/files.ts';
import type { PrinterEvent } from '../../../services/shared/ipc.ts';
import { createLogger } from '../../../services/shared/log.ts';
import { JobStore, type JobRecord } from '../../../services/printer/jobs/job-store.ts';
import { PrinterManager } from '../../../services/printer/manager.ts';
import type { Printer } from '../../../services/printer/device/printer.ts';
import { openSerialPort } from '../../../services/printer/serial/port.ts';
import { tempDir, waitFor } from '../virtual-printer.ts';
import { ModelBoard } from './board.ts';
import type { MarlinModel, ModelOptions } from './model.ts';

export interface ModelRig {
  board: ModelBoard;
  model: MarlinModel;
  manager: PrinterManager;
  files: FileStore;
  events: PrinterEvent[];
  waitFor<T>(fn: () => T | undefined | false, timeoutMs?: number, what?: string): Promise<T>;
  /** The printer once it is connected and idle. */
  idle(timeoutMs?: number): Promise<Printer>;
  jobEnd(id: string, timeoutMs?: number): Promise<JobRecord>;
  /** The cable is pulled: the pty goes away (the service sees the port close). */
  unplug(): Promise<void>;
  /** A board with a fresh model (power-up) appears at the same path; `model`/`board` then name it. */
  replug(opts?: Partial<ModelOptions>): Promise<void>;
  close(): Promise<void>;
}

export async function createModelRig(model: Partial<ModelOptions>, printer: { okTimeoutMs?: number; probeTimeoutMs?: number } = {}): Promise<ModelRig> {
  const dir = tempDir('model');
  const link = path.join(dir, 'vp-1');
  let board = await ModelBoard.create(link, model);
  const files = new FileStore(path.join(dir, 'files'));
  await files.init();
  const store = await JobStore.open(path.join(dir, 'printer.db'));
  const log = createLogger({ scope: 'test', level: process.env.PRINTBOX_TEST_DEBUG ? 'debug' : 'error' });
  const manager = new PrinterManager({
    discovery: { byIdDir: path.join(dir, 'no-usb'), extra: [path.join(dir, 'vp-*')], log, list: async () => [] },
    baudrates: [115_200], openPort: openSerialPort, store, files, log,
    printer: { okTimeoutMs: printer.okTimeoutMs ?? 1000, probeTimeoutMs: printer.probeTimeoutMs ?? 5000 },
  });
  const events: PrinterEvent[] = [];
  manager.events.on('event', (e) => events.push(e));
  await manager.start();
  return {
    get board() { return board; }, get model() { return board.model; }, manager, files, events, waitFor,
    async idle(timeoutMs = 15_000) {
      const p = await waitFor(() => manager.list().find((x) => x.state === 'idle'), timeoutMs, 'printer idle');
      return manager.get(p.id);
    },
    jobEnd: (id, timeoutMs = 60_000) => waitFor(() => { const j = manager.get(id).job; return j && j.state !== 'printing' && j; }, timeoutMs, `${id}: job end`),
    unplug: () => board.close(),
    replug: async (opts = model) => { board = await ModelBoard.create(link, opts); },
    close: async () => { await manager.stop(); await board.close(); await store.close(); fs.rmSync(dir, { recursive: true, force: true }); },
  };
}
