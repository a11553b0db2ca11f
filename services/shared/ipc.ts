/**
 * The typed IPC contract between PrintBox processes — the one file both ends import.
 * Wire: newline-delimited JSON over a Unix socket (ipc-transport.ts).
 *   request  (client → server): { id, method, params }
 *   response (server → client): { id, ok: true, result } | { id, ok: false, error: WireError }
 *   event    (server → client, only after "events.subscribe"): { event, data }
 * Each method documents its direction and meaning; params/result types are checked at both ends by
 * the generic Api maps below.
 */
import type { WireError } from './errors.ts';

// API maps are `type` aliases, not interfaces: only aliases satisfy ApiMap's index signature.
// ───────────── auth.sock: printbox-web → printbox-auth (root, PAM only) ─────────────
export type AuthApi = {
  /** web → auth: check a system account with PAM (auth + acct_mgmt) and report its groups.
   *  Refuses root unless root's group is allowed, and accounts outside the allowed groups, with the
   *  same "unauthorized" error as a wrong password so callers cannot probe account names. */
  'pam.authenticate': { params: { username: string; password: string }; result: { username: string; groups: string[]; stamp?: string } };
  /** web → auth: the account's current stamp — an HMAC-SHA256 (key known only to the auth helper, stable
   *  across its restarts) over the shadow hash field, password/expiry/lock fields, uid and groups — or null
   *  when the account may no longer sign in (gone, locked, expired, root, outside the allowed groups). The
   *  web keeps the stamp from login and ends a PAM session when it changes (password changed with passwd,
   *  account locked, groups changed). Reveals no hash; never an error for an unknown or malformed name. */
  'account.stamp': { params: { username: string }; result: { stamp: string | null } };
  /** web → auth: liveness. */
  'ping': { params: Record<string, never>; result: { ok: true } };
};

// ───────────── printer.sock: printbox-web / CLI → printbox-printer (owns serial ports) ─────────────
export type PrinterState =
  | 'detecting'     // port seen, probing baud/M115
  | 'connecting'
  | 'idle'
  | 'printing'
  | 'paused'
  | 'error'         // firmware Error:/!! or halted; needs reset
  | 'disconnected'; // unplugged; kept so its job can be resumed on reconnect

export interface Temperature { actual: number; target: number }
export type Temperatures = Record<string, Temperature>; // keys: T0, T1, B, C …

export type JobState = 'printing' | 'paused' | 'done' | 'cancelled' | 'failed';

export interface JobInfo {
  id: number;
  printerId: string;
  file: string;
  state: JobState;
  /** Why a job is paused or failed: "user", "disconnect", "service-restart", "firmware-error", "emergency-stop", "reset-while-parked",
   *  "reset-while-parking", "resume-failed", "no-response" (no ok after the M105 polls), "line-numbering" (the printer asked for a
   *  line it had confirmed: its numbering was reset unseen), "resend-failed" (a line rejected too often, or asked for but never sent) … */
  reason?: string;
  /** Paused jobs: false while the pause still drains and parks (or when a reset cut the park short). */
  parked?: boolean;
  progress: number;      // 0..1 by bytes
  lines_sent: number;
  lines_total: number;
  bytes_sent: number;
  bytes_total: number;
  eta_s: number | null;
  started_at: string;    // ISO
  ended_at?: string;
  /** Who started it: the web user name, `<owner>/key:<prefix>` for an API key (OctoPrint clients), "local"; null when unknown. */
  user?: string | null;
  /** Filament pushed so far (mm), counted from the acknowledged lines (services/printer/jobs/filament.ts). */
  filament_mm?: number;
}

/** A finished job in the print history (GET /api/jobs). */
export interface HistoryEntry extends JobInfo {
  ended_at: string;
  /** The printer's name when the job started. */
  printer: { id: string; name: string };
  user: string | null;
  /** From start to end, pauses included. */
  duration_s: number;
  /** done → completed; the reason of a failed job is in `reason`. */
  result: 'completed' | 'cancelled' | 'failed';
  /** used_mm: counted from the lines sent; estimated_mm: the file's metadata (the slicer's figure, else computed from its moves), null if unknown. */
  filament: { used_mm: number; estimated_mm: number | null };
  file_size: number;
}

/** A file's finished prints (OctoPrint's "prints" and "statistics" of a file are made from this). */
export interface FilePrintStats {
  success: number;
  failure: number;
  last: { ended_at: string; success: boolean; duration_s: number };
  last_success_duration_s: number | null;
  average_success_duration_s: number | null;
}

export interface PrinterInfo {
  id: string;            // stable: derived from the by-id path (or "virtual-N")
  port: string;          // /dev/serial/by-id/… or pty path
  name: string;          // from M115 MACHINE_TYPE / FIRMWARE_NAME or the USB product
  state: PrinterState;
  baudrate?: number;
  capabilities?: Record<string, boolean>;
  temperatures: Temperatures;
  job?: JobInfo;
  error?: string;
}

export type PrinterApi = {
  /** any → printer: liveness and version. */
  'ping': { params: Record<string, never>; result: { ok: true; version: string } };
  /** web → printer: all known printers (connected, detecting, or disconnected with a resumable job). */
  'printers.list': { params: Record<string, never>; result: PrinterInfo[] };
  /** web → printer: one printer; error not_found (404). */
  'printers.get': { params: { id: string }; result: PrinterInfo };
  /** web → printer: send one line from the terminal (queued behind the job's lines unless an emergency command). */
  'printers.command': { params: { id: string; gcode: string }; result: { queued: true } };
  /** web → printer: M112 immediately (jumps the queue); the job fails with reason "emergency-stop". */
  'printers.emergencyStop': { params: { id: string }; result: { stopped: true } };
  /** web → printer: reset a printer stuck in `error` (M112, firmware halt): close and reopen its port —
   *  which reboots CH340/FTDI+AVR boards via DTR — and probe again (M115); resolves with the printer,
   *  normally `idle` (`paused` if a paused job waits; `error` again if nothing answers). Error busy (409)
   *  while a job is printing or a probe is running; a paused job stays resumable. */
  'printers.reconnect': { params: { id: string }; result: PrinterInfo };
  /** web → printer: start printing a file from the files dir (name already validated by web). Error busy (409).
   *  `user`: who asked (Principal.user), kept in the history. */
  'jobs.start': { params: { printerId: string; file: string; user?: string }; result: JobInfo };
  /** web → printer: current or last job of a printer; not_found (404) if none. */
  'jobs.get': { params: { printerId: string }; result: JobInfo };
  'jobs.pause': { params: { printerId: string }; result: JobInfo };
  'jobs.resume': { params: { printerId: string }; result: JobInfo };
  'jobs.cancel': { params: { printerId: string }; result: JobInfo };
  /** web → printer: finished jobs (the print history), newest first. */
  'jobs.history': { params: { limit?: number }; result: HistoryEntry[] };
  /** web → printer: remove finished jobs that ended before `before` (ISO time), or all finished jobs without it. */
  'jobs.prune': { params: { before?: string }; result: { removed: number } };
  /** web → printer: remove one finished job; not_found (404), job_active (409) while it prints or is paused. */
  'jobs.delete': { params: { id: number }; result: { removed: number } };
  /** web → printer: finished prints per file name, optionally of one printer and/or one file only. */
  'jobs.fileStats': { params: { printerId?: string; file?: string }; result: Record<string, FilePrintStats> };
  /** web → printer: is any printer printing (the cloud unlink rule asks this). */
  'jobs.active': { params: Record<string, never>; result: { active: boolean; printers: string[] } };
  /** web → printer: after this, the connection receives PrinterEvent messages until it closes. */
  'events.subscribe': { params: Record<string, never>; result: { subscribed: true } };
};

/** printer → subscriber events (pushed, no id). */
export type PrinterEvent =
  | { event: 'printer'; data: PrinterInfo }                         // state/name/capabilities changed
  | { event: 'removed'; data: { id: string } }                      // forgotten (no job to resume)
  | { event: 'temperatures'; data: { id: string; temperatures: Temperatures } }
  | { event: 'job'; data: JobInfo }                                 // progress, state change
  | { event: 'log'; data: { id: string; direction: 'sent' | 'received'; line: string } }; // terminal

// ───────────── generic wire shapes ─────────────
export type ApiMap = Record<string, { params: unknown; result: unknown }>;
export interface Request<A extends ApiMap, M extends keyof A = keyof A> { id: number; method: M; params: A[M]['params'] }
export type Response<A extends ApiMap, M extends keyof A = keyof A> =
  | { id: number; ok: true; result: A[M]['result'] }
  | { id: number; ok: false; error: WireError };
export type Handlers<A extends ApiMap> = { [M in keyof A]: (params: A[M]['params'], conn: ConnectionContext) => Promise<A[M]['result']> };

/** What a handler knows about the caller: the peer's uid when the platform tells (SO_PEERCRED is not exposed by Node; we rely on socket file permissions). */
export interface ConnectionContext {
  /** Send an unsolicited event to this connection (only meaningful after a subscribe). */
  push(message: unknown): void;
  onClose(fn: () => void): void;
}
