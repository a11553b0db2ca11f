/**
 * Restarting a camera's ustreamer so new capture settings take effect: `systemctl try-restart` of its
 * printbox-camera@<id>.service instance (only when it runs: an unplugged camera takes them when it appears).
 * The web is not root: a polkit rule must grant its user exactly this action on these units (the image's camera
 * units bring it, docs/camera.md). Without a unit template (the default; `npm start`, tests) nothing is restarted.
 */
import { execFile } from 'node:child_process';
import { unavailable } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';

export interface CameraUnits { restart(id: string): Promise<void> }

export function systemdCameraUnits(template: string, log: Logger): CameraUnits | undefined {
  if (!template) return undefined;
  return {
    restart: (id) => new Promise((resolve, reject) => {
      const unit = template.replace('%i', id);
      execFile('systemctl', ['--no-ask-password', 'try-restart', unit], { timeout: 20_000 }, (err, _out, stderr) => {
        if (!err) { log.info('camera restarted with new settings', { unit }); return resolve(); }
        log.warn('camera restart failed', { unit, error: stderr.trim() || err.message });
        reject(unavailable('camera_restart_failed', `The settings are saved, but ${unit} could not be restarted: ${stderr.trim() || err.message}`));
      });
    }),
  };
}
