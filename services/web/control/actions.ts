/**
 * The body of POST /api/printers/:id/control as a ControlAction: only the fields the action has, each of
 * the right type. Ranges depend on the printer's profile and are checked by the printer service, which
 * knows it (services/printer/device/control.ts); raw G-code goes through /command or a macro, not here.
 */
import { badRequest } from '../../shared/errors.ts';
import type { ControlAction } from '../../shared/ipc.ts';
import { isNumber, isObject } from './values.ts';

type Kind = 'number' | 'axes' | 'heater';
const FIELDS: Record<Exclude<ControlAction['action'], 'gcode'>, Record<string, { kind: Kind; required?: boolean }>> = {
  home: { axes: { kind: 'axes' } },
  jog: { x: { kind: 'number' }, y: { kind: 'number' }, z: { kind: 'number' }, feedrate: { kind: 'number' } },
  extrude: { amount: { kind: 'number', required: true }, tool: { kind: 'number' }, feedrate: { kind: 'number' } },
  temperature: { heater: { kind: 'heater', required: true }, target: { kind: 'number', required: true } },
  fan: { percent: { kind: 'number', required: true } },
  feedrate: { percent: { kind: 'number', required: true } },
  flowrate: { percent: { kind: 'number', required: true } },
  babystep: { z: { kind: 'number', required: true } },
  motorsOff: {},
};

export const CONTROL_ACTIONS = Object.keys(FIELDS);

function checked(name: string, kind: Kind, v: unknown): unknown {
  if (kind === 'number' && !isNumber(v)) throw badRequest('bad_request', `${name} must be a number`);
  if (kind === 'heater' && (typeof v !== 'string' || !/^(T\d|B|C)$/.test(v))) throw badRequest('bad_request', `${name} must be T0…T7, B (bed) or C (chamber)`);
  if (kind === 'axes' && (!Array.isArray(v) || v.length > 3 || v.some((a) => !['x', 'y', 'z'].includes(a as string)))) {
    throw badRequest('bad_request', `${name} must list x, y and/or z`);
  }
  return v;
}

export function parseControl(body: unknown): ControlAction {
  if (!isObject(body)) throw badRequest('bad_request', 'A JSON object with "action" is required');
  const action = body.action;
  if (typeof action !== 'string' || !Object.hasOwn(FIELDS, action)) {
    throw badRequest('bad_action', `action must be one of ${CONTROL_ACTIONS.join(', ')}`);
  }
  const fields = FIELDS[action as keyof typeof FIELDS];
  const out: Record<string, unknown> = { action };
  for (const key of Object.keys(body)) {
    if (key !== 'action' && !Object.hasOwn(fields, key)) throw badRequest('bad_request', `${action} takes no "${key}"`);
  }
  for (const [name, f] of Object.entries(fields)) {
    if (body[name] === undefined) { if (f.required) throw badRequest('bad_request', `${action} needs "${name}"`); continue; }
    out[name] = checked(name, f.kind, body[name]);
  }
  return out as ControlAction;
}
