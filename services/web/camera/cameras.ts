/**
 * The cameras the web can show: one ustreamer per V4L2 capture device (printbox-camera@<id>.service, started by
 * udev when the device appears and stopped when it goes), each listening on <cameraDir>/<id>.sock only. The web
 * is the one way in — it proxies /camera/<id>/stream and /snapshot behind PrintBox auth (proxy.ts) — so a camera
 * never has a port of its own. A camera is listed while its socket exists; ustreamer's /state says whether a
 * picture is coming (after an unplug ustreamer keeps serving a "no signal" frame until the unit stops).
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { CAMERA_ID, type CameraSettings, type CameraSettingsStore } from './settings.ts';

export interface CameraInfo {
  id: string;
  /** ustreamer answers and its source delivers frames. */
  online: boolean;
  /** What the camera delivers now (ustreamer /state), when it answers. */
  resolution?: { width: number; height: number };
  fps?: number;
  /** Viewers of the MJPEG stream right now. */
  clients?: number;
  stream: string;
  snapshot: string;
  settings: CameraSettings;
}

/** ustreamer's GET /state: `{"ok": true, "result": {"source": {...}, "stream": {...}}}`. */
interface UstreamerState {
  result?: { source?: { online?: boolean; captured_fps?: number; resolution?: { width?: number; height?: number } }; stream?: { clients?: number } };
}

const STATE_TIMEOUT_MS = 1500;
/** A 4K JPEG at quality 100 stays well below this. */
const MAX_SNAPSHOT = 16 * 1024 * 1024;

export class Cameras {
  constructor(private readonly dir: string, readonly settings: CameraSettingsStore) {}

  socket(id: string): string { return path.join(this.dir, `${id}.sock`); }

  /** Ids with a socket, sorted (video0 before video10). */
  ids(): string[] {
    let names: string[];
    try { names = fs.readdirSync(this.dir); } catch { return []; }
    return names.filter((n) => n.endsWith('.sock')).map((n) => n.slice(0, -5)).filter((id) => CAMERA_ID.test(id))
      .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  }

  has(id: string): boolean { return CAMERA_ID.test(id) && this.ids().includes(id); }

  async list(): Promise<CameraInfo[]> {
    return Promise.all(this.ids().map((id) => this.info(id)));
  }

  async info(id: string): Promise<CameraInfo> {
    const state = await this.state(id);
    const src = state?.result?.source;
    const w = src?.resolution?.width; const h = src?.resolution?.height;
    return {
      id, online: src?.online === true,
      ...(w && h ? { resolution: { width: w, height: h } } : {}),
      ...(typeof src?.captured_fps === 'number' ? { fps: src.captured_fps } : {}),
      ...(typeof state?.result?.stream?.clients === 'number' ? { clients: state.result.stream.clients } : {}),
      stream: `/camera/${id}/stream`, snapshot: `/camera/${id}/snapshot`, settings: this.settings.get(id),
    };
  }

  /** One JPEG from ustreamer's /snapshot (timelapse frames); rejects when the camera has no picture. */
  snapshot(id: string, timeoutMs = 5000): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const req = http.get({ socketPath: this.socket(id), path: '/snapshot', timeout: timeoutMs }, (res) => {
        if (res.statusCode !== 200) { res.resume(); return reject(new Error(`camera ${id} answered ${res.statusCode}`)); }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => { chunks.push(c); size += c.length; if (size > MAX_SNAPSHOT) req.destroy(new Error('snapshot too large')); });
        res.on('end', () => resolve(Buffer.concat(chunks)));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`camera ${id} did not answer in time`)));
      req.on('error', reject);
    });
  }

  /** ustreamer's /state over its socket; undefined when it does not answer in time. */
  private state(id: string): Promise<UstreamerState | undefined> {
    return new Promise((resolve) => {
      const req = http.get({ socketPath: this.socket(id), path: '/state', timeout: STATE_TIMEOUT_MS }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => { body += c; if (body.length > 65_536) req.destroy(); });
        res.on('end', () => { try { resolve(JSON.parse(body) as UstreamerState); } catch { resolve(undefined); } });
        res.on('error', () => resolve(undefined));
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(undefined));
    });
  }
}
