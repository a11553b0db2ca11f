/**
 * The printer service as real processes for integration tests: virtual printers on real ptys in a
 * private temp dir, the printer service (services/printer/main.ts) discovering them through
 * PRINTBOX_SERIAL_PORTS, an IPC client on its printer.sock, and optionally the web in front of it.
 * The service can be stopped (SIGTERM) or killed (SIGKILL) and started again on the same data dir.
 * close() stops everything it started and removes the temp dir.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { JobInfo, PrinterApi, PrinterInfo } from '../../services/shared/ipc.ts';
import { IpcClient } from '../../services/shared/ipc-transport.ts';
import type { VirtualPrinterOptions } from '../../services/printer/virtual/virtual-printer.ts';
import { tempDir, VirtualPrinter } from './virtual-printer.ts';
import { request, spawnService, startWeb, type Reply, type Service, type WebServer } from './web.ts';

export interface PrinterStackOptions {
  /** Temp dir prefix (printbox-<tag>-…). */
  tag: string;
  /** Virtual printers by id; each appears as <dir>/<id>, which is also the printer id the service reports. */
  printers: Record<string, Omit<VirtualPrinterOptions, 'link'>>;
  /** PRINTBOX_BAUDRATES (default: the first printer's baud). */
  baudrates?: number[];
  /** G-code files put into the service's file store before it starts. */
  files?: Record<string, string>;
  /** Also start the web (HTTPS on loopback) in front of the printer service. */
  web?: boolean;
  env?: Record<string, string>;
}

export interface PrinterStack {
  dir: string;
  dataDir: string;
  runDir: string;
  vps: Record<string, VirtualPrinter>;
  /** The current printer service process (replaced by startPrinter()). */
  printer: Service;
  client: IpcClient<PrinterApi>;
  web: WebServer | undefined;
  /** (Re)starts the printer service and waits until it is ready. */
  startPrinter(): Promise<Service>;
  /** Ends the printer service with `signal` and waits for it to exit (SIGTERM = graceful stop). */
  stopPrinter(signal?: NodeJS.Signals): Promise<void>;
  /** One HTTPS request to the web from 127.0.0.1 (needs web: true). */
  call(method: string, urlPath: string, body?: unknown, headers?: Record<string, string>): Promise<Reply>;
  /** Polls fn (errors count as "not yet": the service may be restarting) until it returns something truthy. */
  until<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, ms: number, what: string): Promise<T>;
  /** Waits until printer `id` reports `state` over IPC. */
  untilState(id: string, state: PrinterInfo['state'], ms?: number): Promise<PrinterInfo>;
  /** Starts printing `file` on printer `id` and waits until more than `lines` lines were acknowledged. */
  printUntil(id: string, file: string, lines: number): Promise<JobInfo>;
  /** Waits until the job of printer `id` is no longer printing (done, failed, cancelled or paused). */
  jobEnd(id: string, ms?: number): Promise<JobInfo>;
  /**
   * Waits until virtual printer `id` (record: true) has run everything the host sent it so far. A cancelled
   * job leaves the lines the firmware had already buffered, which it still runs after the host went idle:
   * an M400 queued now reaches it after them (one serial stream, in order), so once it ran, they did.
   */
  drained(id: string, ms?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startPrinterStack(opts: PrinterStackOptions): Promise<PrinterStack> {
  const dir = tempDir(opts.tag);
  const dataDir = path.join(dir, 'data'); const runDir = path.join(dir, 'run');
  fs.mkdirSync(path.join(dataDir, 'files'), { recursive: true }); fs.mkdirSync(runDir, { recursive: true });
  for (const [name, text] of Object.entries(opts.files ?? {})) fs.writeFileSync(path.join(dataDir, 'files', name), text);
  const vps: Record<string, VirtualPrinter> = {};
  const ids = Object.keys(opts.printers);
  const baudrates = opts.baudrates ?? [opts.printers[ids[0]!]?.baud ?? 115_200];
  const env = {
    PRINTBOX_DATA_DIR: dataDir, PRINTBOX_RUN_DIR: runDir, PRINTBOX_SERIAL_PORTS: path.join(dir, 'vp-*'),
    PRINTBOX_BAUDRATES: baudrates.join(','), ...opts.env,
  };
  const client = new IpcClient<PrinterApi>({ path: path.join(runDir, 'printer.sock'), service: 'printer', timeoutMs: 5000 });
  const stack: PrinterStack = {
    dir, dataDir, runDir, vps, client, web: undefined,
    printer: undefined as unknown as Service,
    async startPrinter() {
      const svc = spawnService('services/printer/main.ts', env);
      stack.printer = svc;
      await svc.waitFor(/printer service ready/);
      return svc;
    },
    async stopPrinter(signal = 'SIGTERM') {
      const { child } = stack.printer;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill(signal);
      await exited;
    },
    call(method, urlPath, body, headers) {
      assert.ok(stack.web, 'startPrinterStack({ web: true }) for HTTP calls');
      return request(stack.web, { method, path: urlPath, body, headers, localAddress: '127.0.0.1' });
    },
    async until(fn, ms, what) {
      const end = Date.now() + ms;
      for (;;) {
        try { const v = await fn(); if (v) return v; } catch { /* not up yet */ }
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    untilState(id, state, ms = 20_000) {
      return stack.until(async () => { const p = await client.call('printers.get', { id }); return p.state === state && p; }, ms, `${id} ${state}`);
    },
    async printUntil(id, file, lines) {
      await client.call('jobs.start', { printerId: id, file });
      return stack.until(async () => { const j = await client.call('jobs.get', { printerId: id }); return j.lines_sent > lines && j; }, 20_000, `${id}: ${file} past line ${lines}`);
    },
    async drained(id, ms = 20_000) {
      const sim = vps[id]!.sim;
      const from = sim.executed.length;
      await client.call('printers.command', { id, gcode: 'M400' });
      await stack.until(() => sim.executed.lastIndexOf('M400') >= from, ms, `${id}: the firmware ran what it was sent`);
    },
    jobEnd(id, ms = 40_000) {
      return stack.until(async () => { const j = await client.call('jobs.get', { printerId: id }); return j.state !== 'printing' && j; }, ms, `${id}: job end`);
    },
    async close() {
      await stack.web?.stop();
      await stack.printer?.stop();
      await Promise.all(Object.values(vps).map((v) => v.close()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    for (const id of ids) {
      assert.ok(id.startsWith('vp-'), 'printer ids start with vp- (the discovery glob)');
      vps[id] = await VirtualPrinter.create({ ...opts.printers[id], link: path.join(dir, id) });
    }
    await stack.startPrinter();
    if (opts.web) stack.web = await startWeb({ dataDir, runDir });
  } catch (e) { await stack.close(); throw e; }
  return stack;
}
