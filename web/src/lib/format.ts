/** Display helpers shared by the screens. */
export function duration(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return '—';
  s = Math.max(0, Math.round(s));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h) return `${h} h ${m} min`;
  if (m) return `${m} min ${sec} s`;
  return `${sec} s`;
}

/** Filament length: "434 mm" below a metre, "4.32 m" above. */
export function filament(mm: number | null | undefined): string {
  if (mm === null || mm === undefined || !Number.isFinite(mm)) return '—';
  return mm < 1000 ? `${Math.round(mm)} mm` : `${(mm / 1000).toFixed(2)} m`;
}

/**
 * The short facts a file list shows under a name: estimated time (≈ when PrintBox computed it from
 * the moves rather than the slicer), filament, layer height. Unknown facts are left out.
 */
export function fileFacts(m: { estimated_time_s: number | null; estimate_source: string | null; filament_used_mm: number | null; filament_used_g: number | null; layer_height_mm: number | null } | null | undefined): string[] {
  if (!m) return [];
  const out: string[] = [];
  if (m.estimated_time_s !== null) out.push(`${m.estimate_source === 'computed' ? '≈ ' : ''}${duration(m.estimated_time_s)}`);
  if (m.filament_used_mm !== null) out.push(`${filament(m.filament_used_mm)} filament${m.filament_used_g !== null ? ` (${m.filament_used_g} g)` : ''}`);
  if (m.layer_height_mm !== null) out.push(`${m.layer_height_mm} mm layers`);
  return out;
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export const percent = (f: number | null | undefined) =>
  f === null || f === undefined || !Number.isFinite(f) ? '—' : `${(f * 100).toFixed(f < 0.1 ? 1 : 0)} %`;

export const temp = (c: number | null | undefined) =>
  c === null || c === undefined || !Number.isFinite(c) ? '—' : `${c.toFixed(1)} °C`;

/** Firmware sensor keys → words people use. */
export function sensorName(key: string): string {
  if (key === 'B') return 'Bed';
  if (key === 'C') return 'Chamber';
  if (/^T\d*$/.test(key)) return key === 'T' || key === 'T0' ? 'Hotend' : `Hotend ${Number(key.slice(1)) + 1}`;
  return key;
}

export const stateLabel: Record<string, string> = {
  detecting: 'Detecting', connecting: 'Connecting', idle: 'Ready', printing: 'Printing', paused: 'Paused',
  error: 'Error', disconnected: 'Disconnected', done: 'Done', cancelled: 'Cancelled', failed: 'Failed',
};

/**
 * Why a job is paused or failed, in words (services/shared/ipc.ts JobInfo.reason). Every reason but "user"
 * means the board restarted under the print, and resume then re-homes X/Y before it goes on — saying so
 * up front is what lets a user decide to resume rather than cancel. Unknown reasons (a firmware's own
 * `Error:` text for a failed job) are shown as they are.
 */
const REASONS: Record<string, string> = {
  user: 'Paused by a user; the head is parked away from the print.',
  firmware: 'The printer paused itself (filament change or a question on its screen) and parked the head; it resumes once its question is answered.',
  disconnect: 'The printer was disconnected (USB cable or power). Reconnect it, check the print, then resume: X and Y are homed again first.',
  'service-restart': 'PrintBox restarted during the print. Check the print, then resume: X and Y are homed again first.',
  'firmware-reset': 'The printer board restarted during the print. Check the print, then resume: X and Y are homed again first.',
  'reset-while-parked': 'The printer board restarted while the head was parked. Resume re-heats and homes X and Y before it goes on.',
  // The host cannot know whether the lift ran before the reset; resume assumes it did not (never below the print).
  'reset-while-parking': 'The printer board restarted while the head was moving to its park position. Resume re-heats and homes X and Y; if the head had already been lifted, it may go on up to 10 mm above the print — watch the first moves.',
  'emergency-stop': 'Stopped by the emergency stop. The printer must be reset before the next print.',
  'firmware-error': 'The printer firmware reported an error and halted (see the terminal). Check the printer before printing again.',
  'file-read-error': 'The G-code file could not be read to the end (storage error).',
  'line-too-long': 'A line of the G-code file is longer than the printer firmware can read; it was not sent and the heaters were switched off. Shorten that line (the notification names it) and print again.',
  'no-response': 'The printer stopped answering during the print. Check it and reconnect before printing again.',
  'line-numbering': 'The printer lost count of the lines sent (it restarted unseen or got an M110); nothing was resent. Reconnect it before printing again.',
  'resend-failed': 'The printer rejected the same line again and again (a noisy USB connection or cable). Reconnect it before printing again.',
  'resume-failed': 'Resuming did not finish: the printer did not confirm the resume moves in time. Check it, then resume again: X and Y are homed again first.',
};

/**
 * A user pause the printer has not confirmed yet: the moves already sent drain, then the park runs
 * (seconds on a real printer). The server says so with parked === false, which a page loaded mid-pause
 * sees too; offering Resume then would race the park.
 */
export function parking(job: { state: string; reason?: string | null; parked?: boolean } | null | undefined): boolean {
  return job?.state === 'paused' && job.reason === 'user' && job.parked === false;
}

export function jobReason(reason: string | null | undefined): string {
  if (!reason) return '';
  return REASONS[reason] ?? reason;
}
