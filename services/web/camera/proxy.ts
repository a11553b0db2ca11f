/**
 * GET /camera/<id>/stream and /snapshot: ustreamer's own /stream (multipart MJPEG) and /snapshot (one JPEG),
 * piped from its Unix socket to the signed-in viewer. Each viewer gets its own connection to ustreamer, which
 * encodes each frame once for all its clients, and its own pipe with its own back-pressure: a second viewer (or
 * a slow one on Wi-Fi) costs a socket and a copy, never the first viewer's frames. The stream ends with the viewer, with the camera (unplug:
 * the unit stops) and with the viewer's session or API key (like /api/events).
 */
import http from 'node:http';
import type { Request, Response } from 'express';
import { AppError, notFound, unavailable } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import type { Cameras } from './cameras.ts';
import { CAMERA_ID } from './settings.ts';

export type CameraResource = 'stream' | 'snapshot';

/** ustreamer sends a frame at least this often while its source is online; a stalled connect is given up. */
const CONNECT_TIMEOUT_MS = 5000;

/**
 * Resolves once the response has started (headers sent) or failed before that (rejects with an AppError, so
 * the route's error handler answers 404/503 in the usual shape). `onClose` runs once when a started response ends.
 */
export function proxyCamera(cams: Cameras, log: Logger, id: string, what: CameraResource, req: Request, res: Response, onClose: () => void): Promise<void> {
  if (!cams.has(id)) return Promise.reject(notFound(`Camera ${id}`));
  return new Promise((resolve, reject) => {
    let started = false;
    let closed = false;
    const close = () => { if (closed) return; closed = true; upstream.destroy(); onClose(); if (!res.writableEnded) res.end(); };
    const upstream = http.get({ socketPath: cams.socket(id), path: `/${what}`, timeout: CONNECT_TIMEOUT_MS }, (up) => {
      if (up.statusCode !== 200) {
        up.resume();
        upstream.destroy();
        return reject(unavailable('camera_offline', `Camera ${id} has no picture right now (ustreamer answered ${up.statusCode})`));
      }
      started = true;
      upstream.setTimeout(0);
      res.status(200).set({
        'Content-Type': up.headers['content-type'] ?? (what === 'stream' ? 'multipart/x-mixed-replace' : 'image/jpeg'),
        'Cache-Control': 'no-store, no-cache, must-revalidate',
        'X-Accel-Buffering': 'no',
      });
      if (up.headers['content-length'] && what === 'snapshot') res.setHeader('Content-Length', up.headers['content-length']);
      res.flushHeaders();
      up.pipe(res);
      up.on('end', close);
      up.on('error', close);
      resolve();
    });
    upstream.on('timeout', () => upstream.destroy(new Error('no answer in time')));
    upstream.on('error', (e) => {
      if (started) return close();
      log.warn('camera not reachable', { id, what, error: e.message });
      reject(unavailable('camera_offline', `Camera ${id} does not answer (its streamer is starting or stopped)`));
    });
    req.on('close', () => { if (started) close(); else upstream.destroy(); });
    res.on('close', () => { if (started) close(); });
  });
}

/** The camera id of a route's :id, refused before anything touches the filesystem. */
export function cameraId(params: { id?: string | string[] }): string {
  const id = params.id;
  if (typeof id !== 'string' || !CAMERA_ID.test(id)) throw new AppError('invalid_camera', 400, 'A camera id is "video" and a number, e.g. video0');
  return id;
}
