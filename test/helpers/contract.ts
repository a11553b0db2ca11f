/**
 * Small readers for the contract tests (test/integration/contract*.test.ts): systemd unit files as
 * data, and shape assertions that name the CONTRACT.md line a failure breaks.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { REPO } from './web.ts';

/** [Section] → key → every value given (systemd allows repeating keys; an empty value resets the list). */
export type Unit = Record<string, Record<string, string[]>>;

export function readUnit(name: string): Unit {
  const file = path.join(REPO, 'systemd', name);
  assert.ok(fs.existsSync(file), `CONTRACT "Processes and units": systemd/${name} is missing`);
  const unit: Unit = {};
  let section = '';
  for (const raw of fs.readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) { section = sec[1]!; unit[section] ??= {}; continue; }
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    const values = (unit[section]![key] ??= []);
    if (value === '') values.length = 0; else values.push(value);
  }
  return unit;
}

/** All words of a (possibly repeated, space-separated) setting, e.g. SupplementaryGroups. */
export const words = (unit: Unit, section: string, key: string): string[] =>
  (unit[section]?.[key] ?? []).flatMap((v) => v.split(/\s+/)).filter(Boolean);

/** The last value of a setting (later assignments win), or undefined. */
export const last = (unit: Unit, section: string, key: string): string | undefined => unit[section]?.[key]?.at(-1);

type Kind = 'string' | 'number' | 'boolean' | 'object' | 'array' | 'null';
const kindOf = (v: unknown): Kind => (v === null ? 'null' : Array.isArray(v) ? 'array' : (typeof v as Kind));

/**
 * `value` has every key of `shape` with one of the allowed kinds; `optional` keys may be absent.
 * Extra keys are allowed: the contract may be extended, not changed (README "Contract").
 */
export function assertShape(value: unknown, shape: Record<string, Kind | readonly Kind[]>, line: string, optional: string[] = []): void {
  assert.equal(kindOf(value), 'object', `${line}: expected an object, got ${JSON.stringify(value)}`);
  const o = value as Record<string, unknown>;
  for (const [key, kinds] of Object.entries(shape)) {
    if (!(key in o)) {
      assert.ok(optional.includes(key), `${line}: "${key}" missing in ${JSON.stringify(value)}`);
      continue;
    }
    const allowed: readonly Kind[] = typeof kinds === 'string' ? [kinds] : kinds;
    assert.ok(allowed.includes(kindOf(o[key])), `${line}: "${key}" is ${kindOf(o[key])}, expected ${allowed.join('|')} in ${JSON.stringify(value)}`);
  }
}

/** CONTRACT "HTTP API": errors are exactly {"error": {"code", "message"}} (details optional, an extension). */
export function assertError(reply: { status: number; json: unknown; text: string }, status: number, line: string, code?: string): void {
  assert.equal(reply.status, status, `${line}: status ${reply.status}, expected ${status}: ${reply.text}`);
  assert.deepEqual(Object.keys((reply.json ?? {}) as object), ['error'], `${line}: error body ${reply.text}`);
  const e = (reply.json as { error: Record<string, unknown> }).error;
  assert.equal(typeof e.code, 'string', `${line}: error.code in ${reply.text}`);
  assert.equal(typeof e.message, 'string', `${line}: error.message in ${reply.text}`);
  assert.ok(Object.keys(e).every((k) => ['code', 'message', 'details'].includes(k)), `${line}: error keys in ${reply.text}`);
  if (code) assert.equal(e.code, code, `${line}: error code in ${reply.text}`);
}

