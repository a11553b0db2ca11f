/**
 * The web service's settings (CONTRACT.md "Configuration"). Only main.ts calls loadConfig with
 * process.env; everything else receives the typed WebConfig inside WebDeps.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { securitySchema } from './security/config.ts';
import { bool, commonSchema, int, list, port, str, type ConfigOf, type Field, type Schema } from '../shared/config.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A positive decimal (minutes/hours may be fractional so short idle timeouts are expressible). */
const positive = (env: string, def: number, describe: string, max: number): Field<number> => ({
  env, default: def, describe,
  parse: (raw) => {
    const n = Number(raw);
    if (!/^\d+(\.\d+)?$/.test(raw.trim()) || !(n > 0) || n > max) throw new Error(`must be a number > 0 and <= ${max}, got "${raw}"`);
    return n;
  },
});

export const webSchema = {
  ...commonSchema,
  httpPort: port('PRINTBOX_HTTP_PORT', 80, 'plain HTTP; only redirects to HTTPS (0 = any free port)'),
  httpsPort: port('PRINTBOX_HTTPS_PORT', 443, 'HTTPS UI and API (0 = any free port)'),
  bind: str('PRINTBOX_BIND', '', 'address to listen on; empty = all addresses'),
  hostname: str('PRINTBOX_HOSTNAME', '', 'device name for the TLS cert and Host allow-list; empty = the OS hostname'),
  staticDir: str('PRINTBOX_STATIC_DIR', path.join(REPO, 'web/dist'), 'built web UI (index.html + assets/)'),
  pamGroups: list('PRINTBOX_PAM_GROUPS', ['printbox'], 'system groups whose members may log in (their role: PRINTBOX_ROLE_MAP)'),
  sessionIdleMin: positive('PRINTBOX_SESSION_IDLE_MIN', 30, 'minutes of inactivity before a session ends', 60 * 24 * 30),
  cloudUrl: str('PRINTBOX_CLOUD_URL', '', 'cloud to link to; empty = linking unavailable (offline mode still works)'),
  cloudCa: str('PRINTBOX_CLOUD_CA', '', 'extra PEM CA file trusted for the cloud (private clouds, tests)'),
  sessionMaxH: positive('PRINTBOX_SESSION_MAX_H', 24, 'absolute session lifetime in hours', 24 * 365),
  accountRecheckS: positive('PRINTBOX_ACCOUNT_RECHECK_S', 30, 'seconds between checks that a PAM session\'s account is unchanged (password, lock, groups)', 3600),
  cameraDir: str('PRINTBOX_CAMERA_DIR', '/run/printbox-camera', 'where each camera\'s ustreamer listens (<id>.sock); the web proxies them'),
  systemAdmin: bool('PRINTBOX_SYSTEM_ADMIN', false, 'let admins change Wi-Fi, hostname, timezone, reboot and power off from the UI through NetworkManager/systemd (the image turns it on; off, those routes answer 503)'),
  hotspotAfterS: int('PRINTBOX_HOTSPOT_AFTER_S', 120, 'with device administration on: seconds without any network connection before the setup hotspot PrintBox-XXXX opens (0 = never)', 0, 3600),
  hotspotRetryS: int('PRINTBOX_HOTSPOT_RETRY_S', 300, 'seconds the setup hotspot stays open unused before it closes for a while to look for known networks again', 60, 86_400),
  ...securitySchema,
} satisfies Schema;

export type WebConfig = ConfigOf<typeof webSchema>;
