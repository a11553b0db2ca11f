/**
 * Journal-friendly logger: one line per event, prefixed with the sd-daemon priority (<3> error …
 * <7> debug) so journald records the level when stdout is the journal. Never pass secrets here.
 */
export type Level = 'error' | 'warn' | 'info' | 'debug';
const PRIORITY: Record<Level, number> = { error: 3, warn: 4, info: 6, debug: 7 };

export interface Logger {
  error(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
  child(scope: string): Logger;
}

export interface LoggerOptions {
  scope: string;
  level?: Level;
  /** Where lines go; defaults to stderr. Tests pass an array sink. */
  write?: (line: string) => void;
  /** Prefix with <N> for journald; on by default when running under systemd. */
  journal?: boolean;
}

export function createLogger(opts: LoggerOptions): Logger {
  const min = PRIORITY[opts.level ?? 'info'];
  const write = opts.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (PRIORITY[level] > min) return;
    const extra = fields && Object.keys(fields).length ? ' ' + JSON.stringify(fields) : '';
    const prefix = opts.journal ? `<${PRIORITY[level]}>` : `${new Date().toISOString()} ${level.padEnd(5)} `;
    write(`${prefix}[${opts.scope}] ${msg}${extra}`);
  };
  return {
    error: (m, f) => emit('error', m, f),
    warn: (m, f) => emit('warn', m, f),
    info: (m, f) => emit('info', m, f),
    debug: (m, f) => emit('debug', m, f),
    child: (scope) => createLogger({ ...opts, scope: `${opts.scope}:${scope}` }),
  };
}
