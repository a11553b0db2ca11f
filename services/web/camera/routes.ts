/**
 * The camera route tables: `/api/cameras` (list, settings) in PrintBox's API, and `/camera/<id>/stream|snapshot`,
 * mounted by app.ts at /camera behind the same credentials the OctoPrint-compatible API takes (session cookie,
 * Bearer or X-Api-Key: apps find these URLs in settings.webcam and fetch them with their key).
 */
import { AppError, unavailable } from '../../shared/errors.ts';
import type { WebDeps } from '../deps.ts';
import type { MountOptions } from '../mount.ts';
import { octoprintMount } from '../octoprint/auth.ts';
import type { Route } from '../route-types.ts';
import { jsonObject } from '../routes/validate.ts';
import { bindToApiKey, bindStreamToSession } from '../sessions/bind-streams.ts';
import type { Cameras } from './cameras.ts';
import { cameraId, proxyCamera, type CameraResource } from './proxy.ts';

const VIEW = 'printers.read' as const;

/** Session cookie, Bearer or X-Api-Key (never a key in the URL); without any: 401. */
export const cameraMount: MountOptions = {
  principal: octoprintMount.principal,
  anonymous: () => new AppError('unauthorized', 401, 'Sign in, or send an API key (X-Api-Key or Authorization: Bearer)'),
  auditPrefix: '/camera',
};

function camerasOf(deps: WebDeps): Cameras {
  if (!deps.cameras) throw unavailable('cameras_unavailable', 'Cameras are not set up on this device');
  return deps.cameras;
}

export const cameraApiRoutes: Route<WebDeps>[] = [
  { method: 'get', path: '/cameras', access: VIEW, handler: ({ deps }) => (deps.cameras ? deps.cameras.list() : []) },
  {
    method: 'get', path: '/cameras/:id', access: VIEW,
    handler: ({ req, deps }) => {
      const id = cameraId(req.params);
      const cams = camerasOf(deps);
      if (!cams.has(id)) throw new AppError('not_found', 404, `Camera ${id} not found`);
      return cams.info(id);
    },
  },
  {
    method: 'put', path: '/cameras/:id/settings', access: 'settings.manage',
    handler: async ({ req, deps }) => {
      const id = cameraId(req.params);
      const cams = camerasOf(deps);
      // The capture settings are ustreamer's options, written to its <id>.env: in the image a path unit
      // restarts the camera's streamer when that file changes (a camera not plugged in takes them when it
      // appears), so the web needs no say over systemd. Viewers reconnect; nothing else is disturbed.
      return cams.settings.update(id, jsonObject(req.body));
    },
  },
];

function streamRoute(what: CameraResource): Route<WebDeps> {
  return {
    method: 'get', path: `/:id/${what}`, access: VIEW, raw: true,
    handler: async ({ req, res, principal, deps }) => {
      const id = cameraId(req.params);
      let release: () => void = () => undefined;
      let ended = false;
      await proxyCamera(camerasOf(deps), deps.log, id, what, req, res, () => { ended = true; release(); });
      if (what !== 'stream' || ended) return;
      const end = () => { if (!res.writableEnded) res.end(); };
      const key = req.headers['x-api-key'] ?? /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
      // Like /api/events: a stream outlives no logout, revoked key or lost permission.
      release = principal?.method === 'apikey' ? bindToApiKey(typeof key === 'string' ? key : undefined, principal, deps, VIEW, end) : bindStreamToSession(req, deps, VIEW, end);
    },
  };
}

export const cameraStreamRoutes: Route<WebDeps>[] = [streamRoute('stream'), streamRoute('snapshot')];
