/**
 * Config = schema + typed defaults + validation errors as a list (STYLE.md).
 * Only a service's main.ts calls loadConfig(process.env); everything else receives typed values.
 * Unknown PRINTBOX_* variables are reported as warnings so a typo is visible in the journal.
 */
export interface Field<T> {
  env: string;
  default: T;
  describe: string;
  /** Parses the raw string; throws an Error whose message says what is wrong. */
  parse: (raw: string) => T;
}

export type Schema = Record<string, Field<unknown>>;
export type ConfigOf<S extends Schema> = { [K in keyof S]: S[K] extends Field<infer T> ? T : never };

export interface Loaded<S extends Schema> {
  config: ConfigOf<S>;
  errors: string[];
  warnings: string[];
}

export const str = (env: string, def: string, describe: string): Field<string> => ({
  env, default: def, describe, parse: (raw) => raw,
});

export const port = (env: string, def: number, describe: string): Field<number> => ({
  env, default: def, describe,
  parse: (raw) => {
    const n = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || n < 0 || n > 65535) throw new Error(`must be a port number 0-65535, got "${raw}"`);
    return n;
  },
});

export const int = (env: string, def: number, describe: string, min: number, max: number): Field<number> => ({
  env, default: def, describe,
  parse: (raw) => {
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw.trim()) || n < min || n > max) throw new Error(`must be an integer ${min}-${max}, got "${raw}"`);
    return n;
  },
});

export const list = (env: string, def: string[], describe: string): Field<string[]> => ({
  env, default: def, describe,
  parse: (raw) => raw.split(',').map((s) => s.trim()).filter(Boolean),
});

export const intList = (env: string, def: number[], describe: string): Field<number[]> => ({
  env, default: def, describe,
  parse: (raw) => raw.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
    if (!/^\d+$/.test(s)) throw new Error(`must be a comma-separated list of integers, got "${s}"`);
    return Number(s);
  }),
});

export const bool = (env: string, def: boolean, describe: string): Field<boolean> => ({
  env, default: def, describe,
  parse: (raw) => {
    const v = raw.trim().toLowerCase();
    if (['1', 'yes', 'true', 'on'].includes(v)) return true;
    if (['0', 'no', 'false', 'off', ''].includes(v)) return false;
    throw new Error(`must be yes/no, got "${raw}"`);
  },
});

/** Every PRINTBOX_* variable any service understands; used to warn about unknown ones. */
const KNOWN = new Set<string>();

export function loadConfig<S extends Schema>(schema: S, env: Record<string, string | undefined>): Loaded<S> {
  const errors: string[] = [];
  const warnings: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(schema)) {
    KNOWN.add(field.env);
    const raw = env[field.env];
    if (raw === undefined || raw === '') { out[key] = field.default; continue; }
    try {
      out[key] = field.parse(raw);
    } catch (e) {
      errors.push(`${field.env}: ${(e as Error).message}`);
      out[key] = field.default;
    }
  }
  for (const name of Object.keys(env)) {
    if (name.startsWith('PRINTBOX_') && !KNOWN.has(name) && !ALL_KNOWN_ENV.has(name)) {
      warnings.push(`${name}: unknown setting, ignored`);
    }
  }
  return { config: out as ConfigOf<S>, errors, warnings };
}

/**
 * The contract's env variables (CONTRACT.md "Configuration") plus the ones services add;
 * a service's schema covers only what it uses, so this list keeps warnings honest across services.
 */
export const ALL_KNOWN_ENV = new Set([
  'PRINTBOX_HTTP_PORT', 'PRINTBOX_HTTPS_PORT', 'PRINTBOX_DATA_DIR', 'PRINTBOX_RUN_DIR', 'PRINTBOX_BOOT_DIR',
  'PRINTBOX_CLOUD_URL', 'PRINTBOX_PAM_GROUPS', 'PRINTBOX_VIRTUAL_PRINTERS', 'PRINTBOX_SERIAL_PORTS',
  'PRINTBOX_BAUDRATES', 'PRINTBOX_BIND', 'PRINTBOX_LOG_LEVEL', 'PRINTBOX_FILES_DIR', 'PRINTBOX_HOSTNAME',
  'PRINTBOX_SESSION_IDLE_MIN', 'PRINTBOX_SESSION_MAX_H', 'PRINTBOX_PAM_SERVICE', 'PRINTBOX_STATIC_DIR',
  'PRINTBOX_CLOUD_CA',
  'PRINTBOX_ROLE_MAP', 'PRINTBOX_ACCOUNT_RECHECK_S', 'PRINTBOX_AUTH_IDLE_EXIT_S', 'PRINTBOX_PROBE_TIMEOUT_MS',
  'PRINTBOX_JOB_HISTORY_MAX', 'PRINTBOX_CAMERA_DIR', 'PRINTBOX_SYSTEM_ADMIN', 'PRINTBOX_HOTSPOT_AFTER_S', 'PRINTBOX_HOTSPOT_RETRY_S',
  'PRINTBOX_UPDATE_ENGINE', 'PRINTBOX_UPDATE_SERVER', 'PRINTBOX_UPDATE_CHECK_H', 'PRINTBOX_UPDATE_COMPATIBLE', 'PRINTBOX_UPDATE_TRIAL_S',
]);

/** Settings every service shares (paths and logging). */
export const commonSchema = {
  dataDir: str('PRINTBOX_DATA_DIR', '/var/lib/printbox', 'persistent state: SQLite, TLS cert, device token, files'),
  runDir: str('PRINTBOX_RUN_DIR', '/run/printbox', 'Unix sockets: auth.sock, printer.sock'),
  logLevel: {
    env: 'PRINTBOX_LOG_LEVEL', default: 'info' as 'error' | 'warn' | 'info' | 'debug', describe: 'error|warn|info|debug',
    parse: (raw: string) => {
      if (!['error', 'warn', 'info', 'debug'].includes(raw)) throw new Error(`must be error|warn|info|debug, got "${raw}"`);
      return raw as 'error' | 'warn' | 'info' | 'debug';
    },
  },
} satisfies Schema;
