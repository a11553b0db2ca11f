/** printbox-update settings (docs/contract.md "Configuration"); read only by main.ts. */
import { commonSchema, int, str, type Schema } from '../shared/config.ts';

export const updaterSchema = {
  ...commonSchema,
  server: str('PRINTBOX_UPDATE_SERVER', '', 'update server base URL: the stable and beta channels are <server>/<channel>/index.json; empty = only a custom channel URL'),
  checkH: int('PRINTBOX_UPDATE_CHECK_H', 24, 'hours between background checks of the channel (0 = only when asked)', 0, 24 * 30),
  compatible: str('PRINTBOX_UPDATE_COMPATIBLE', 'printbox-rpi-arm64', 'the bundles this device takes when the update engine does not say (RAUC system.conf compatible)'),
} satisfies Schema;
