/**
 * Timelapse API: the device's timelapse settings, the recorded videos (also attached to their jobs in
 * GET /api/jobs), download with HTTP ranges (a browser's <video> seeks), delete.
 */
import path from 'node:path';
import { conflict, notFound, unavailable, badRequest } from '../../shared/errors.ts';
import type { WebDeps } from '../deps.ts';
import type { Route } from '../route-types.ts';
import { jsonObject } from '../routes/validate.ts';
import type { TimelapseInfo } from './store.ts';

function timelapseOf(deps: WebDeps): NonNullable<WebDeps['timelapse']> {
  if (!deps.timelapse) throw unavailable('timelapse_unavailable', 'Timelapses are not set up on this device');
  return deps.timelapse;
}

const jobOf = (params: { job?: string | string[] }): number => {
  const n = Number(params.job);
  if (typeof params.job !== 'string' || !/^\d{1,12}$/.test(params.job) || !Number.isSafeInteger(n)) throw badRequest('invalid_job', 'A job id is a whole number');
  return n;
};

/** What the API shows of a timelapse: its state and, once ready, where to get it. */
export const publicTimelapse = (t: TimelapseInfo) => ({ ...t, ...(t.state === 'ready' ? { video: `/api/timelapses/${t.job}/video` } : {}) });

export const timelapseRoutes: Route<WebDeps>[] = [
  { method: 'get', path: '/timelapse/settings', access: 'settings.read', handler: ({ deps }) => timelapseOf(deps).settings.get() },
  { method: 'put', path: '/timelapse/settings', access: 'settings.manage', handler: ({ req, deps }) => timelapseOf(deps).settings.update(jsonObject(req.body)) },
  { method: 'get', path: '/timelapses', access: 'jobs.read', handler: ({ deps }) => (deps.timelapse ? deps.timelapse.store.list().map(publicTimelapse) : []) },
  {
    method: 'get', path: '/timelapses/:job/video', access: 'jobs.read', raw: true,
    handler: async ({ req, res, deps }) => {
      const { store } = timelapseOf(deps);
      const t = store.get(jobOf(req.params));
      if (!t || t.state !== 'ready') throw notFound('Timelapse video');
      const name = `${path.basename(t.file).replace(/\.[^.]*$/, '').replace(/[^\w.-]+/g, '_')}-job${t.job}.mp4`;
      await new Promise<void>((resolve, reject) => {
        res.type('video/mp4').attachment(name).sendFile(store.video(t.job), { cacheControl: false, headers: { 'Cache-Control': 'private, no-cache' } }, (e) => (e && !res.headersSent ? reject(notFound('Timelapse video')) : resolve()));
      });
    },
  },
  {
    method: 'delete', path: '/timelapses/:job', access: 'jobs.control',
    handler: async ({ req, deps }) => {
      const { store, recorder } = timelapseOf(deps);
      const t = store.get(jobOf(req.params));
      if (!t) throw notFound('Timelapse');
      if (recorder.recording(t.job)) throw conflict('timelapse_recording', 'This timelapse is still being recorded: its print is running');
      await store.remove(t.job);
    },
  },
];
