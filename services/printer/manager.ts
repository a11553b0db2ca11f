/**
 * The set of printers: reconciles discovery results with known printers (hotplug), keeps printers
 * with a resumable job while they are unplugged, and fans PrinterEvents out to subscribers.
 */
import { EventEmitter } from 'node:events';
import { notFound } from '../shared/errors.ts';
import type { FileStore } from '../shared/files.ts';
import type { JobInfo, PrinterEvent, PrinterInfo } from '../shared/ipc.ts';
import type { Logger } from '../shared/log.ts';
import { discover, watchPorts, type DiscoveryDeps } from './discovery.ts';
import { Printer, type PrinterDeps } from './device/printer.ts';
import type { JobStore } from './jobs/job-store.ts';
import type { OpenPort } from './serial/port.ts';

export interface ManagerDeps {
  discovery: DiscoveryDeps;
  baudrates: number[];
  openPort: OpenPort;
  store: JobStore;
  files: FileStore;
  log: Logger;
  printer?: Partial<Pick<PrinterDeps, 'okTimeoutMs' | 'probeTimeoutMs' | 'rxBytes' | 'park' | 'resumeTimeoutMs'>>;
}

export class PrinterManager {
  readonly events = new EventEmitter<{ event: [PrinterEvent] }>();
  private printers = new Map<string, Printer>();
  private stopWatch: (() => void) | undefined;
  private scanning: Promise<void> | undefined;
  private rescanWanted = false;

  constructor(private readonly deps: ManagerDeps) { this.events.setMaxListeners(0); }

  async start(): Promise<void> {
    const interrupted = await this.deps.store.markInterrupted();
    if (interrupted) this.deps.log.warn('jobs interrupted by a service restart are paused', { count: interrupted });
    for (const job of await this.deps.store.resumable()) this.ensure(job.printerId, '').adopt(job);
    this.watch();
    await this.rescan();
  }

  async stop(): Promise<void> {
    this.stopWatch?.();
    await Promise.all([...this.printers.values()].map((p) => p.disconnect()));
  }

  list(): PrinterInfo[] { return [...this.printers.values()].map((p) => p.info()); }
  get(id: string): Printer { const p = this.printers.get(id); if (!p) throw notFound('Printer'); return p; }
  activeJobs(): string[] { return [...this.printers.values()].filter((p) => p.job?.state === 'printing').map((p) => p.id); }

  jobOf(id: string): JobInfo {
    const info = this.get(id).jobInfo();
    if (!info) throw notFound('Job');
    return info;
  }

  /** Serialised: hotplug bursts coalesce into one more scan. */
  rescan(): Promise<void> {
    if (this.scanning) { this.rescanWanted = true; return this.scanning; }
    this.scanning = (async () => {
      do {
        this.rescanWanted = false;
        const found = await discover(this.deps.discovery);
        for (const c of found) {
          const p = this.ensure(c.id, c.path);
          if (!p.connected && (p.state === 'disconnected' || p.state === 'error')) void p.connect();
        }
        const present = new Set(found.map((c) => c.id));
        for (const p of this.printers.values()) {
          if (!present.has(p.id) && !p.connected && p.state !== 'detecting' && p.job?.state !== 'paused') this.forget(p);
        }
      } while (this.rescanWanted);
    })().finally(() => { this.scanning = undefined; });
    return this.scanning;
  }

  private watch(): void {
    this.stopWatch?.();
    // Re-armed on every change: /dev/serial/by-id may appear after the first device is plugged in.
    this.stopWatch = watchPorts(this.deps.discovery, () => { this.watch(); void this.rescan(); });
  }

  private ensure(id: string, path: string): Printer {
    const existing = this.printers.get(id);
    if (!existing) return this.create(id, path);
    // A job adopted from the store has no path until its port shows up again.
    if (!path || existing.path === path || existing.connected) return existing;
    return this.replace(existing, id, path);
  }

  private replace(old: Printer, id: string, path: string): Printer {
    const p = this.create(id, path);
    if (old.job) p.adopt(old.job);
    return p;
  }

  private create(id: string, path: string): Printer {
    const p = new Printer({
      id, path, baudrates: this.deps.baudrates, openPort: this.deps.openPort, store: this.deps.store, files: this.deps.files,
      log: this.deps.log.child(id), emit: (ev) => this.events.emit('event', ev), ...this.deps.printer,
    });
    this.printers.set(id, p);
    return p;
  }

  private forget(p: Printer): void {
    this.printers.delete(p.id);
    this.events.emit('event', { event: 'removed', data: { id: p.id } });
  }
}
