/**
 * Timelapse settings, one set for the device (<dataDir>/timelapse.json): whether prints are recorded, when a
 * frame is taken (at each layer change the printer confirms, or every N seconds), which camera, the video's
 * frame rate and the disk quota all timelapses share. Validated as a whole: every problem in one 400.
 */
import fs from 'node:fs';
import path from 'node:path';
import { badRequest } from '../../shared/errors.ts';
import { writeFileAtomic } from '../../shared/link/atomic.ts';
import { CAMERA_ID } from '../camera/settings.ts';

export interface TimelapseSettings {
  enabled: boolean;
  /** 'layer': a frame when a layer begins (printer `layer` events); 'interval': every intervalS while printing. */
  mode: 'layer' | 'interval';
  intervalS: number;
  /** null: the first camera. */
  camera: string | null;
  /** Frames per second of the video. */
  fps: number;
  /** All timelapse videos together; the oldest go first when a new one would pass it. */
  maxMb: number;
}

export const DEFAULT_TIMELAPSE: TimelapseSettings = { enabled: false, mode: 'layer', intervalS: 10, camera: null, fps: 25, maxMb: 2048 };

const FIELDS = Object.keys(DEFAULT_TIMELAPSE);

export function timelapseProblems(body: Record<string, unknown>): string[] {
  const errors: string[] = [];
  for (const k of Object.keys(body)) if (!FIELDS.includes(k)) errors.push(`${k} is not a timelapse setting (${FIELDS.join(', ')})`);
  if (body.enabled !== undefined && typeof body.enabled !== 'boolean') errors.push('enabled must be true or false');
  if (body.mode !== undefined && body.mode !== 'layer' && body.mode !== 'interval') errors.push('mode must be "layer" or "interval"');
  const intIn = (k: string, min: number, max: number) => {
    const v = body[k];
    if (v !== undefined && !(Number.isInteger(v) && (v as number) >= min && (v as number) <= max)) errors.push(`${k} must be a whole number from ${min} to ${max}`);
  };
  intIn('intervalS', 2, 3600);
  intIn('fps', 1, 60);
  intIn('maxMb', 10, 1_000_000);
  if (body.camera !== undefined && body.camera !== null && !(typeof body.camera === 'string' && CAMERA_ID.test(body.camera))) errors.push('camera must be a camera id like "video0", or null for the first camera');
  return errors;
}

export class TimelapseSettingsStore {
  private readonly file: string;
  /** Read once: the recorder asks on every printer event, and only update() changes the file. */
  private current: TimelapseSettings | undefined;
  constructor(dataDir: string) { this.file = path.join(dataDir, 'timelapse.json'); }

  get(): TimelapseSettings {
    if (!this.current) {
      try { this.current = { ...DEFAULT_TIMELAPSE, ...(JSON.parse(fs.readFileSync(this.file, 'utf8')) as Partial<TimelapseSettings>) }; } catch { this.current = { ...DEFAULT_TIMELAPSE }; }
    }
    return { ...this.current };
  }

  async update(change: Record<string, unknown>): Promise<TimelapseSettings> {
    const errors = timelapseProblems(change);
    if (errors.length) throw badRequest('invalid_timelapse_settings', `Invalid timelapse settings: ${errors.join('; ')}`, { errors });
    const next = { ...this.get(), ...change } as TimelapseSettings;
    writeFileAtomic(this.file, JSON.stringify(next, null, 2) + '\n', { mode: 0o644 });
    this.current = next;
    return { ...next };
  }
}
