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
