/**
 * The first lines of every daemon's main.ts: typed config from the environment, a logger that
 * writes journald priorities when stdout is the journal, and every config problem reported there
 * (STYLE.md: validation errors as a list, shown where the admin looks). Invalid values fall back to
 * their defaults, so a typo in /etc/printbox/printbox.env never keeps a printer box from booting.
 */
import { loadConfig, type ConfigOf, type Field, type Schema } from './config.ts';
import { createLogger, type Level, type Logger } from './log.ts';

export interface ServiceStart<S extends Schema> {
  config: ConfigOf<S>;
  log: Logger;
  /** The same problems as logged: "NAME: what is wrong", errors first. */
  problems: string[];
}

export function startService<S extends Schema & { logLevel: Field<Level> }>(
  scope: string, schema: S, env: Record<string, string | undefined>,
): ServiceStart<S> {
  const { config, errors, warnings } = loadConfig(schema, env);
  const log = createLogger({ scope, level: config.logLevel as Level, journal: Boolean(env.JOURNAL_STREAM) });
  errors.forEach((e) => log.error(`config: ${e} (using the default)`));
  warnings.forEach((w) => log.warn(`config: ${w}`));
  return { config, log, problems: [...errors, ...warnings] };
}
