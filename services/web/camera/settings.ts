/**
 * Per-camera settings. Capture settings (resolution, frame rate, JPEG quality) are ustreamer's own options and
 * take effect when printbox-camera@<id>.service (re)starts: they are written as <dataDir>/cameras/<id>.env,
 * the unit's EnvironmentFile. View settings (rotation, flips) are applied by whoever shows the picture — the UI,
 * and OctoPrint clients through settings.webcam's flipH/flipV/rotate90 — because most UVC cameras have no
 * flip or rotate controls for ustreamer to set, and OctoPrint clients already rotate the picture themselves.
 * Everything is validated here (ustreamer(1): --resolution WxH, --desired-fps N, --quality 1–100), so a bad
 * value is a 400 with every problem listed, never a camera unit that fails to start.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { badRequest } from '../../shared/errors.ts';
import { writeFileAtomic } from '../../shared/link/atomic.ts';

export interface CameraSettings {
  /** WIDTHxHEIGHT, as ustreamer's --resolution. */
  resolution: string;
  /** ustreamer --desired-fps. */
  fps: number;
  /** ustreamer --quality (JPEG, when it encodes: cameras that send MJPEG keep theirs). */
  quality: number;
  rotate: 0 | 90 | 180 | 270;
  flipH: boolean;
  flipV: boolean;
}

export const DEFAULT_SETTINGS: CameraSettings = { resolution: '1280x720', fps: 15, quality: 80, rotate: 0, flipH: false, flipV: false };

/** A camera's id is the kernel's name of its capture device (udev %k), the unit's instance name. */
export const CAMERA_ID = /^video\d{1,3}$/;

const FIELDS = Object.keys(DEFAULT_SETTINGS);
/** WIDTHxHEIGHT (ustreamer's --resolution form); the ranges below are what PrintBox offers, inside ustreamer's. */
const RES = /^(\d{2,5})x(\d{2,5})$/;

/** Every problem of a settings change, as sentences; [] when it can be applied. */
export function settingsProblems(body: Record<string, unknown>): string[] {
  const errors: string[] = [];
  for (const k of Object.keys(body)) if (!FIELDS.includes(k)) errors.push(`${k} is not a camera setting (${FIELDS.join(', ')})`);
  if (body.resolution !== undefined) {
    const m = typeof body.resolution === 'string' ? RES.exec(body.resolution) : null;
    const [w, h] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
    if (!m || w < 160 || h < 120 || w > 3840 || h > 2160 || w % 2 || h % 2) errors.push('resolution must be WIDTHxHEIGHT with even sides from 160x120 to 3840x2160, e.g. 1280x720');
  }
  const intIn = (k: string, min: number, max: number) => {
    const v = body[k];
    if (v !== undefined && !(Number.isInteger(v) && (v as number) >= min && (v as number) <= max)) errors.push(`${k} must be a whole number from ${min} to ${max}`);
  };
  intIn('fps', 1, 60);
  intIn('quality', 10, 100);
  if (body.rotate !== undefined && ![0, 90, 180, 270].includes(body.rotate as number)) errors.push('rotate must be 0, 90, 180 or 270');
  for (const k of ['flipH', 'flipV']) if (body[k] !== undefined && typeof body[k] !== 'boolean') errors.push(`${k} must be true or false`);
  return errors;
}

/** ustreamer's command-line options for these settings: the one line of the unit's EnvironmentFile. */
export const envFile = (s: CameraSettings): string =>
  `# Written by the PrintBox web service; read by printbox-camera@.service on start.\nPRINTBOX_CAMERA_ARGS=--resolution=${s.resolution} --desired-fps=${s.fps} --quality=${s.quality}\n`;

export class CameraSettingsStore {
  private readonly file: string;
  private readonly envDir: string;

  constructor(dataDir: string) {
    this.file = path.join(dataDir, 'cameras.json');
    this.envDir = path.join(dataDir, 'cameras');
  }

  all(): Record<string, CameraSettings> {
    try {
      const stored = JSON.parse(fs.readFileSync(this.file, 'utf8')) as Record<string, Partial<CameraSettings>>;
      return Object.fromEntries(Object.entries(stored).filter(([id]) => CAMERA_ID.test(id)).map(([id, s]) => [id, { ...DEFAULT_SETTINGS, ...s }]));
    } catch {
      return {}; // none saved yet (or unreadable: the defaults, as on a new device)
    }
  }

  get(id: string): CameraSettings { return this.all()[id] ?? { ...DEFAULT_SETTINGS }; }

  /** Validates the change as a whole, then stores it and the unit's environment file (both replaced atomically). */
  async update(id: string, change: Record<string, unknown>): Promise<CameraSettings> {
    const errors = settingsProblems(change);
    if (errors.length) throw badRequest('invalid_camera_settings', `Invalid camera settings: ${errors.join('; ')}`, { errors });
    const all = this.all();
    const next = { ...(all[id] ?? DEFAULT_SETTINGS), ...change } as CameraSettings;
    all[id] = next;
    await fsp.mkdir(this.envDir, { recursive: true, mode: 0o755 });
    writeFileAtomic(path.join(this.envDir, `${id}.env`), envFile(next), { mode: 0o644 });
    writeFileAtomic(this.file, JSON.stringify(all, null, 2) + '\n', { mode: 0o644 });
    return next;
  }
}
