/** printbox-update settings (docs/contract.md "Configuration"); read only by main.ts. */
import { commonSchema, int, port, str, type Field, type Schema } from '../shared/config.ts';

const engine: Field<'rauc' | 'none'> = {
  env: 'PRINTBOX_UPDATE_ENGINE', default: 'none',
  describe: 'rauc: install with RAUC and restart (the image sets it); none: check and download only, never touch the machine (development)',
  parse: (raw) => {
    if (raw !== 'rauc' && raw !== 'none') throw new Error(`must be rauc or none, got "${raw}"`);
    return raw;
  },
};

export const updaterSchema = {
  ...commonSchema,
  engine,
  server: str('PRINTBOX_UPDATE_SERVER', '', 'update server base URL: the stable and beta channels are <server>/<channel>/index.json; empty = only a custom channel URL'),
  checkH: int('PRINTBOX_UPDATE_CHECK_H', 24, 'hours between background checks of the channel (0 = only when asked)', 0, 24 * 30),
  httpsPort: port('PRINTBOX_HTTPS_PORT', 443, 'where the web answers: the trial boot checks its /api/health there'),
  trialS: int('PRINTBOX_UPDATE_TRIAL_S', 300, 'seconds the first boot of a new version has to become healthy before its slot is marked bad and the other one starts', 60, 3600),
  idleExitS: int('PRINTBOX_UPDATE_IDLE_EXIT_S', 60, 'socket-activated only: exit after this many seconds with nothing to do and no connection (0 = never)', 0, 86_400),
  compatible: str('PRINTBOX_UPDATE_COMPATIBLE', 'printbox-rpi-arm64', 'the bundles this device takes when the update engine does not say (RAUC system.conf compatible)'),
} satisfies Schema;
