/**
 * Small input checks shared by route handlers: every failure is a 400 AppError naming the field,
 * never a crash on a surprising type.
 */
import { badRequest } from '../../shared/errors.ts';

/** The JSON body as a plain object (arrays, null and missing bodies refused). */
export function jsonObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('invalid_body', 'Send a JSON object');
  return body as Record<string, unknown>;
}

export interface StringRule { max: number; min?: number; optional?: boolean }

export function stringField(body: Record<string, unknown>, name: string, rule: StringRule & { optional: true }): string | undefined;
export function stringField(body: Record<string, unknown>, name: string, rule: StringRule): string;
export function stringField(body: Record<string, unknown>, name: string, rule: StringRule): string | undefined {
  const v = Object.hasOwn(body, name) ? body[name] : undefined;
  if (v === undefined || v === null) {
    if (rule.optional) return undefined;
    throw badRequest('missing_field', `"${name}" is required`, { field: name });
  }
  if (typeof v !== 'string') throw badRequest('invalid_field', `"${name}" must be a string`, { field: name });
  if (v.length < (rule.min ?? 1)) throw badRequest('invalid_field', `"${name}" must not be empty`, { field: name });
  if (v.length > rule.max) throw badRequest('field_too_long', `"${name}" is longer than ${rule.max} characters`, { field: name });
  return v;
}
