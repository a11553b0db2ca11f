/**
 * Live printer state from GET /api/events (Server-Sent Events: a snapshot on connect, then deltas
 * mirroring the printer service's PrinterEvent, and `files` when the files dir changed). If the stream is unavailable the UI falls back to
 * polling GET /api/printers so it still works, just less promptly.
 */
import { get, message } from './api.ts';
import type { HostPrompt, JobInfo, PrinterInfo, Temperatures } from './types.ts';

export interface Sample { t: number; temps: Temperatures }
export interface LogLine { dir: 'sent' | 'received'; line: string }
/** A firmware notification (`//action:notification`), shown as a toast. */
export interface Notice { key: number; printer: string; text: string; at: string }

const MAX_NOTICES = 5;
let noticeKey = 0;

const HISTORY_MS = 5 * 60_000;
const MAX_LOG = 300;

export const live = $state({
  printers: {} as Record<string, PrinterInfo>,
  history: {} as Record<string, Sample[]>,
  logs: {} as Record<string, LogLine[]>,
  /** 'live' = SSE open, 'polling' = fallback, 'offline' = neither works. */
  mode: 'offline' as 'live' | 'polling' | 'offline',
  loaded: false,
  /** Why printers cannot be listed (printer service down …); '' when fine. */
  error: '',
  /** Goes up on every `files` event (an upload or delete anywhere): screens listing files fetch them again. */
  filesVersion: 0,
  /** Newest last; the toasts remove themselves (components/HostPrompt.svelte). */
  notifications: [] as Notice[],
});

function record(id: string, temps: Temperatures | undefined): void {
  if (!temps || Object.keys(temps).length === 0) return;
  const now = Date.now();
  // Not `??=`: that yields the raw array, while the state keeps a proxied copy, so the first push would be lost.
  if (!live.history[id]) live.history[id] = [];
  const h = live.history[id]!;
  const last = h[h.length - 1];
  // Autoreport can be several per second; a point every 500 ms is plenty for a 5-minute plot.
  if (last && now - last.t < 500) { last.temps = temps; return; }
  h.push({ t: now, temps });
  while (h.length && h[0]!.t < now - HISTORY_MS) h.shift();
}

function setPrinters(list: PrinterInfo[]): void {
  live.error = '';
  const next: Record<string, PrinterInfo> = {};
  for (const p of list) { next[p.id] = p; record(p.id, p.temperatures); }
  live.printers = next;
  live.loaded = true;
}

function setJob(job: JobInfo): void {
  const p = live.printers[job.printerId];
  if (p) p.job = job;
}

/** Applies one event; exported for tests of the protocol shape. */
export function apply(event: string, data: unknown): void {
  const d = data as Record<string, unknown>;
  switch (event) {
    case 'snapshot': {
      const list = Array.isArray(data) ? data : (d.printers as PrinterInfo[] | undefined) ?? [];
      setPrinters(list as PrinterInfo[]);
      break;
    }
    case 'printer': {
      const p = data as PrinterInfo;
      const next = { ...live.printers[p.id], ...p };
      if (!p.prompt) delete next.prompt; // absent = no open prompt, not "unchanged"
      live.printers[p.id] = next;
      record(p.id, p.temperatures);
      break;
    }
    case 'removed': delete live.printers[d.id as string]; break;
    case 'temperatures': {
      const id = d.id as string;
      const p = live.printers[id];
      if (p) p.temperatures = d.temperatures as Temperatures;
      record(id, d.temperatures as Temperatures);
      break;
    }
    case 'job': setJob(data as JobInfo); break;
    case 'prompt': {
      const p = live.printers[d.id as string];
      if (p) { if (d.prompt) p.prompt = d.prompt as HostPrompt; else delete p.prompt; }
      break;
    }
    case 'notification':
      live.notifications.push({ key: ++noticeKey, printer: d.id as string, text: String(d.text), at: String(d.at) });
      if (live.notifications.length > MAX_NOTICES) live.notifications.splice(0, live.notifications.length - MAX_NOTICES);
      break;
    case 'files': live.filesVersion++; break;
    // The web lost (or regained) printer.sock; the stream itself stays open.
    case 'service': live.error = d.up ? '' : 'The printer service is not running; it is restarted automatically.'; break;
    case 'log': {
      const id = d.id as string;
      if (!live.logs[id]) live.logs[id] = [];
      const l = live.logs[id]!;
      l.push({ dir: d.direction === 'sent' ? 'sent' : 'received', line: String(d.line) });
      if (l.length > MAX_LOG) l.splice(0, l.length - MAX_LOG);
      break;
    }
  }
}

let source: EventSource | null = null;
let pollTimer: ReturnType<typeof setInterval> | null = null;
let retryTimer: ReturnType<typeof setTimeout> | null = null;

async function poll(): Promise<void> {
  try {
    setPrinters(await get<PrinterInfo[]>('/api/printers'));
    live.error = '';
    if (live.mode !== 'live') live.mode = 'polling';
  } catch (e) {
    live.error = message(e);
    if (live.mode !== 'live') live.mode = 'offline';
  }
}

function startPolling(): void {
  if (pollTimer) return;
  void poll();
  pollTimer = setInterval(poll, 2000);
}

function stopPolling(): void {
  if (pollTimer) clearInterval(pollTimer);
  pollTimer = null;
}

function openStream(): void {
  const es = new EventSource('/api/events');
  source = es;
  es.onopen = () => { live.mode = 'live'; stopPolling(); };
  for (const name of ['snapshot', 'printer', 'removed', 'temperatures', 'job', 'log', 'service', 'files', 'prompt', 'notification']) {
    es.addEventListener(name, (e) => apply(name, JSON.parse((e as MessageEvent<string>).data)));
  }
  // Unnamed messages carrying {event, data} are accepted too.
  es.onmessage = (e) => {
    const m = JSON.parse(e.data) as { event?: string; type?: string; data?: unknown };
    const name = m.event ?? m.type;
    if (name) apply(name, m.data);
  };
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) {
      // The browser gave up (e.g. 404/401/503): poll, and try the stream again later.
      live.mode = 'polling';
      startPolling();
      retryTimer = setTimeout(() => { if (source === es) openStream(); }, 15_000);
    }
  };
}

export function connectLive(): void {
  if (source) return;
  void poll();
  openStream();
}

export function disconnectLive(): void {
  source?.close();
  source = null;
  stopPolling();
  if (retryTimer) clearTimeout(retryTimer);
  live.mode = 'offline';
  live.printers = {};
  live.history = {};
  live.logs = {};
  live.notifications = [];
  live.loaded = false;
  live.error = '';
}
