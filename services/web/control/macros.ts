/**
 * User-defined macros: named G-code snippets run on a printer through the printer service's queue.
 * Kept in printbox.db as an idempotent CREATE … IF NOT EXISTS (like security/schema.ts), so the table
 * appears on whatever database the web opens without taking a number in the web's migration list.
 * Each macro names the permission needed to run it: an admin can keep "Purge nozzle" for everyone who
 * controls printers and "Level bed (mesh)" for those with settings.manage.
 */
import { AppError, badRequest, notFound } from '../../shared/errors.ts';
import type { Db } from '../../shared/db.ts';
import { commandProblem, stripComment } from '../../shared/gcode.ts';
import { PERMISSIONS, type Permission } from '../../shared/permissions.ts';

export interface Macro {
  name: string;
  description: string;
  /** The snippet as written: one command a line, `;` comments and blank lines allowed. */
  gcode: string;
  /** Needed (besides printers.control) to run it. */
  permission: Permission;
  /** Runs while a job is printing or paused (fan, M117 messages); otherwise refused then like a jog. */
  whilePrinting: boolean;
}

const SQL = `CREATE TABLE IF NOT EXISTS macros (
  name TEXT PRIMARY KEY,
  description TEXT NOT NULL,
  gcode TEXT NOT NULL,
  permission TEXT NOT NULL,
  while_printing INTEGER NOT NULL,
  updated_at TEXT NOT NULL
);`;

export const MAX_MACRO_LINES = 100;
const NAME = /^[\p{L}\p{N}][\p{L}\p{N} _.+-]{0,39}$/u;

/** The commands of a macro's text, comments and blank lines dropped. */
export const macroLines = (gcode: string): string[] => gcode.split(/\r?\n/).map(stripComment).filter(Boolean);

/** Every problem of a macro as sentences; [] when it can be saved. */
export function macroProblems(m: Record<string, unknown>, named = true): string[] {
  const errors: string[] = [];
  if (named && (typeof m.name !== 'string' || !NAME.test(m.name))) errors.push('name must be 1 to 40 letters, digits, spaces or _ . + -, starting with a letter or digit');
  if (m.description !== undefined && (typeof m.description !== 'string' || m.description.length > 200)) errors.push('description must be text of at most 200 characters');
  if (typeof m.gcode !== 'string') errors.push('gcode must be text, one command a line');
  else {
    const lines = macroLines(m.gcode);
    if (lines.length === 0 || lines.length > MAX_MACRO_LINES) errors.push(`gcode must hold 1 to ${MAX_MACRO_LINES} commands`);
    lines.forEach((l, i) => {
      const problem = commandProblem(Buffer.from(l, 'utf8').toString('latin1'));
      if (problem) errors.push(`gcode command ${i + 1} (${l.slice(0, 20)}): ${problem}`);
    });
  }
  if (m.permission !== undefined && !(PERMISSIONS as readonly unknown[]).includes(m.permission)) errors.push(`permission must be one of ${PERMISSIONS.join(', ')}`);
  if (m.whilePrinting !== undefined && typeof m.whilePrinting !== 'boolean') errors.push('whilePrinting must be true or false');
  for (const k of Object.keys(m)) if (!['name', 'description', 'gcode', 'permission', 'whilePrinting'].includes(k)) errors.push(`${k} is not a macro field`);
  return errors;
}

interface Row { name: string; description: string; gcode: string; permission: string; while_printing: number }
const toMacro = (r: Row): Macro => ({ name: r.name, description: r.description, gcode: r.gcode, permission: r.permission as Permission, whilePrinting: !!r.while_printing });

export class MacroStore {
  private ready: Promise<void> | undefined;
  constructor(private readonly db: Db) {}

  private init(): Promise<void> { return (this.ready ??= this.db.exec(SQL)); }

  async list(): Promise<Macro[]> {
    await this.init();
    return (await this.db.all<Row>('SELECT * FROM macros ORDER BY name')).map(toMacro);
  }

  async get(name: string): Promise<Macro> {
    await this.init();
    const r = await this.db.get<Row>('SELECT * FROM macros WHERE name = ?', [name]);
    if (!r) throw notFound(`Macro "${name}"`);
    return toMacro(r);
  }

  /** Creates (create: true; 409 if the name is taken) or replaces a macro, after validation (invalid_macro 400 with details.errors). */
  async save(input: Record<string, unknown>, create: boolean): Promise<Macro> {
    const errors = macroProblems(input);
    if (errors.length) throw badRequest('invalid_macro', `Invalid macro: ${errors.join('; ')}`, { errors });
    const m: Macro = {
      name: input.name as string, description: (input.description as string | undefined) ?? '', gcode: input.gcode as string,
      permission: (input.permission as Permission | undefined) ?? 'printers.control', whilePrinting: input.whilePrinting === true,
    };
    await this.init();
    const params = [m.name, m.description, m.gcode, m.permission, m.whilePrinting ? 1 : 0, new Date().toISOString()];
    if (create) {
      const r = await this.db.run('INSERT OR IGNORE INTO macros (name, description, gcode, permission, while_printing, updated_at) VALUES (?, ?, ?, ?, ?, ?)', params);
      if (r.changes === 0) throw new AppError('macro_exists', 409, `A macro named "${m.name}" exists already`);
    } else {
      const r = await this.db.run('UPDATE macros SET description = ?, gcode = ?, permission = ?, while_printing = ?, updated_at = ? WHERE name = ?', [...params.slice(1), m.name]);
      if (r.changes === 0) throw notFound(`Macro "${m.name}"`);
    }
    return m;
  }

  async remove(name: string): Promise<void> {
    await this.init();
    const r = await this.db.run('DELETE FROM macros WHERE name = ?', [name]);
    if (r.changes === 0) throw notFound(`Macro "${name}"`);
  }
}

const stores = new WeakMap<Db, MacroStore>();
/** One store per database, created on first use: the table is made by the first request that needs it. */
export function macrosOf(db: Db): MacroStore {
  let s = stores.get(db);
  if (!s) { s = new MacroStore(db); stores.set(db, s); }
  return s;
}
