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
  /** Why a job is paused or failed: "user" (also a pause from the printer's menu: `//action:pause`), "firmware" (the firmware
   *  paused and parked by itself: `//action:paused`, M600), "disconnect", "service-restart", "firmware-error", "emergency-stop", "reset-while-parked",
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
  /** What the firmware said to the user during this job: its prompts, the answers, notifications and
   *  action commands (pause from the printer's menu …), oldest first, at most JOB_EVENTS_MAX. */
  events?: JobEvent[];
}

/** One entry of a job's `events` (services/printer/device/host-actions.ts). */
export interface JobEvent {
  at: string;            // ISO
  kind: 'prompt' | 'answer' | 'notification' | 'action';
  /** prompt: the firmware's text (choices in `choices`); answer: the chosen button; notification: its text; action: its name. */
  text: string;
  choices?: string[];
  /** answer: who answered (web user, API key), as `user` of a job. */
  user?: string | null;
}

/**
 * A question the firmware is asking the user, shown as a dialog until answered or closed by the firmware.
 * `firmware`: a host prompt (`//action:prompt_begin` … `prompt_show`), answered with `M876 S<index>`;
 * `wait`: the firmware waits for the user (`echo:busy: paused for user`: M0/M1, M600) without a prompt of
 * its own (no Cap:PROMPT_SUPPORT), its one choice "Continue" sends M108.
 */
export interface HostPrompt {
  /** Increases with every prompt of a printer: an answer names the prompt it answers. */
  id: number;
  source: 'firmware' | 'wait';
  text: string;
  choices: string[];
  opened_at: string;     // ISO
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
  /** The open host prompt, if the firmware is asking something. */
  prompt?: HostPrompt;
}

/**
 * A printer's profile (services/printer/profiles): what the control panel may ask of it. Defaults come from
 * M115 (EXTRUDER_COUNT) and the temperature reports (B:, C:); a user's edit is stored by the printer service.
 * Lengths in mm, speeds in mm/min, temperatures in °C.
 */
export interface PrinterProfile {
  volume: { width: number; depth: number; height: number };
  /** speed: the jog/extrude feed rate used when none is given, and the most a request may ask for;
   *  inverted: the UI swaps the jog buttons of that axis (the API always moves in machine coordinates). */
  axes: Record<'x' | 'y' | 'z' | 'e', { speed: number; inverted: boolean }>;
  extruders: number;
  heatedBed: boolean;
  heatedChamber: boolean;
  /** Extrusion below this hotend temperature is refused (Marlin's EXTRUDE_MINTEMP default: 170). */
  minExtrudeTemp: number;
  maxTemp: { hotend: number; bed: number; chamber: number };
  /** Jog step sizes the UI offers. */
  jogSteps: number[];
  /** Preheat presets the UI offers (chamber optional). */
  presets: Array<{ name: string; hotend: number; bed: number; chamber?: number }>;
}

/**
 * One control-panel action (printers.control). The printer service checks it against the printer's profile
 * and state, builds the G-code and queues it behind the job's lines like terminal commands.
 * Refused (409) while a job is printing or paused: home, jog, extrude, motorsOff, and gcode unless whilePrinting.
 */
export type ControlAction =
  | { action: 'home'; axes?: Array<'x' | 'y' | 'z'> }                         // none = all
  | { action: 'jog'; x?: number; y?: number; z?: number; feedrate?: number }   // relative move
  | { action: 'extrude'; amount: number; tool?: number; feedrate?: number }   // negative = retract
  | { action: 'temperature'; heater: string; target: number }                 // heater T0…, B, C
  | { action: 'fan'; percent: number }                                        // part-cooling fan
  | { action: 'feedrate'; percent: number }                                   // M220
  | { action: 'flowrate'; percent: number }                                   // M221
  | { action: 'babystep'; z: number }                                         // M290
  | { action: 'motorsOff' }                                                   // M18
  | { action: 'gcode'; lines: string[]; whilePrinting?: boolean };            // macros, OctoPrint's jog/home/extrude

export type PrinterApi = {
  /** any → printer: liveness and version. */
  'ping': { params: Record<string, never>; result: { ok: true; version: string } };
  /** web → printer: all known printers (connected, detecting, or disconnected with a resumable job). */
  'printers.list': { params: Record<string, never>; result: PrinterInfo[] };
  /** web → printer: one printer; error not_found (404). */
  'printers.get': { params: { id: string }; result: PrinterInfo };
  /** web → printer: send one line from the terminal (queued behind the job's lines unless an emergency command). */
  'printers.command': { params: { id: string; gcode: string }; result: { queued: true } };
  /** web → printer: one control-panel action (ControlAction): guarded, turned into G-code and queued like terminal
   *  commands, all its lines at once. Errors: bad_request/out_of_range (400), printing (409: while a job is printing
   *  or paused), cold_extrusion (409, the temperature in the message), no_heater (409), not_connected (409). */
  'printers.control': { params: { id: string; control: ControlAction }; result: { queued: string[] } };
  /** web → printer: the printer's profile (defaults from M115 and the temperature reports unless edited). */
  'printers.profile': { params: { id: string }; result: { profile: PrinterProfile; edited: boolean } };
  /** web → printer: replace the profile's given fields (null: back to the defaults); invalid_profile (400) lists every problem in details.errors. */
  'printers.setProfile': { params: { id: string; profile: Partial<PrinterProfile> | null }; result: { profile: PrinterProfile; edited: boolean } };
  /** web → printer: answer the open host prompt with its choice number `choice` (0-based): `M876 S<choice>` for a
   *  firmware prompt, M108 for a `wait` prompt (both past the queue with EMERGENCY_PARSER). Errors: prompt_closed (409)
   *  when `promptId` is not the open prompt (answered already, closed by the firmware), bad_choice (400), not_connected (409). */
  'printers.prompt.answer': { params: { id: string; promptId: number; choice: number; user?: string }; result: { sent: string } };
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
  | { event: 'layer'; data: { id: string; job: number; layer: number; z: number } } // a layer began (jobs/layers.ts)
  | { event: 'log'; data: { id: string; direction: 'sent' | 'received'; line: string } } // terminal
  | { event: 'prompt'; data: { id: string; prompt: HostPrompt | null } }            // a prompt opened (null: closed)
  | { event: 'notification'; data: { id: string; text: string; at: string } };      // `//action:notification`

// ───────────── update.sock: printbox-web / CLI → printbox-update (downloads and installs updates) ─────────────
/** A release offered by the update server's index (docs/updates.md "Update server"). */
export interface Release {
  version: string;
  /** RAUC's compatible string: a bundle for another board family is never offered. */
  compatible: string;
  /** Absolute, resolved against the index's own URL. */
  url: string;
  size: number;
  sha256: string;
  notes: string;
  released: string;
}

export type UpdateChannel = 'stable' | 'beta' | 'custom';
export interface UpdateSettings {
  channel: UpdateChannel;
  /** The index URL when the channel is custom. */
  url: string;
  /** Install new releases by itself when every printer is idle. */
  automatic: boolean;
}

/** An installed bundle (or, for a rollback, the previous slot) the next boot has to start from. */
export interface PendingSwitch {
  kind: 'update' | 'rollback';
  from: string;
  to: string;
  slot: string;
  at: string;
  /** The boot that installed it: only a later boot can tell whether the switch happened. */
  bootId: string;
  /**
   * false from just before the engine writes until it has finished: a boot that finds it false and runs the
   * old version was cut off mid-install (nothing changed), one that runs the new version is its trial.
   */
  written?: boolean;
}

export interface UpdateOutcome {
  /** installed: the new version runs; rolled_back: it did not start and the old one came back; reverted: went back as asked. */
  outcome: 'installed' | 'rolled_back' | 'reverted' | 'interrupted';
  from: string;
  to: string;
  at: string;
  message: string;
}

export interface SlotInfo {
  /** RAUC's slot name, e.g. rootfs.0 */
  name: string;
  /** What the boot loader calls it (A, B). */
  bootname: string;
  booted: boolean;
  /** The slot the next boot starts. */
  primary: boolean;
  /** The engine's boot status: good, bad, or empty when unknown. */
  health: string;
  /** From RAUC; for a slot RAUC did not write (the one the card was flashed with), the version the updater saw run there. */
  version?: string;
  installed?: string;
}

export interface SlotReport { compatible: string; booted: string; slots: SlotInfo[] }

export type UpdatePhase = 'idle' | 'checking' | 'downloading' | 'waiting' | 'installing' | 'rebooting';

export interface UpdateStatus {
  phase: UpdatePhase;
  current: { version: string; compatible: string };
  available: Release | null;
  lastCheck: string | null;
  progress?: { percent: number; message: string };
  /** While waiting: the printers whose job holds the update back. */
  waitingFor?: string[];
  /** The last operation's failure, until the next one starts. */
  error?: { code: string; message: string; at: string };
  last?: UpdateOutcome;
  pending?: PendingSwitch;
  slots?: SlotReport;
  settings: UpdateSettings;
}

export interface ApplyRequest {
  /** A release from the last check (default: the newest one offered). */
  version?: string;
  /** A bundle already on the device (printbox update apply FILE). */
  file?: string;
  /** A bundle anywhere on the network, not listed in an index (the engine still checks its signature). */
  url?: string;
  /** Install an older or the same version. */
  allowDowngrade?: boolean;
}

export type UpdateApi = {
  /** web/CLI → update: where updating stands. */
  'update.status': { params: Record<string, never>; result: UpdateStatus };
  /** web/CLI → update: read the channel's index now; update_server_unset (409), update_server_unreachable / update_index_invalid (502). */
  'update.check': { params: Record<string, never>; result: UpdateStatus };
  /** web/CLI → update: start an update in the background (answers at once); update_busy / update_none (409), update_not_found (404), 400 for a bad source. */
  'update.apply': { params: ApplyRequest; result: UpdateStatus };
  /** web/CLI → update: stop a download or a wait; update_committed (409) once the engine writes. */
  'update.cancel': { params: Record<string, never>; result: UpdateStatus };
  /** web/CLI → update: boot the previous version again once the printers are idle; rollback_unavailable (409). */
  'update.rollback': { params: Record<string, never>; result: UpdateStatus };
  /** web/CLI → update: change channel, URL or automatic; invalid_update_settings (400) lists every problem. */
  'update.settings': { params: Partial<UpdateSettings>; result: UpdateStatus };
  /** web → update: after this, the connection receives { event: 'update', data: UpdateStatus } on every change. */
  'events.subscribe': { params: Record<string, never>; result: { subscribed: true } };
};

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
