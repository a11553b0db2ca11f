/**
 * Host action commands: firmware lines of the form `//action:<name>[ <argument>]` (the RepRap wiki's
 * "Replies from the RepRap machine to the host computer"; OctoPrint docs/features/action_commands.rst).
 * Marlin prints them from feature/host_actions.cpp with HOST_ACTION_COMMANDS: `pause`/`paused`,
 * `resume`/`resumed`, `cancel`, `start`, `notification <text>`, and with HOST_PROMPT_SUPPORT the prompt
 * protocol `prompt_begin <text>`, `prompt_button <text>` (OctoPrint also accepts `prompt_choice`),
 * `prompt_show`, `prompt_end`; the host answers a prompt with `M876 S<index>` (gcode/host/M876.cpp).
 * Only parsing lives here; what an action does to a printer is device/host-actions.ts.
 */

export type SimpleAction = 'pause' | 'paused' | 'resume' | 'resumed' | 'cancel' | 'disconnect' | 'start' | 'prompt_show' | 'prompt_end';
export type TextAction = 'notification' | 'prompt_begin' | 'prompt_choice';

export type HostAction =
  | { name: SimpleAction }
  | { name: TextAction; text: string }
  /** Well-formed but not ours (`sd_inserted`, `shutdown`, `probe_rewipe` …): logged, ignored. */
  | { name: 'other'; action: string; argument: string };

export type ParsedAction = { ok: true; action: HostAction } | { ok: false; problem: string };

const SIMPLE = new Set<string>(['pause', 'paused', 'resume', 'resumed', 'cancel', 'disconnect', 'start', 'prompt_show', 'prompt_end']);
/** Firmware text shown to the user: a prompt longer than this is line noise, not a dialog. */
export const MAX_ACTION_TEXT = 200;

/**
 * `//action:…` (also `// action:…`, as some firmware pads the comment) → the action, a problem for a
 * malformed one, or undefined for any other line. OctoPrint strips and compares whole words
 * (comm.py `_handle_action_command`), so `pause now` is not `pause`: here it is reported as malformed.
 */
export function parseHostAction(line: string): ParsedAction | undefined {
  const m = /^\/\/\s?action:(.*)$/.exec(line);
  if (!m) return undefined;
  const body = m[1]!.trim();
  const sp = body.search(/\s/);
  const word = (sp < 0 ? body : body.slice(0, sp));
  const rest = sp < 0 ? '' : body.slice(sp + 1).trim();
  if (!word) return { ok: false, problem: 'action name missing' };
  if (!/^[a-z][a-z0-9_]*$/i.test(word)) return { ok: false, problem: `invalid action name "${clip(word)}"` };
  // Line noise at a wrong baud rate or a corrupted byte: never put it in front of the user.
  if (/[\x00-\x1f\x7f\ufffd]/.test(rest)) return { ok: false, problem: `${word}: unprintable characters in its text` };
  if (rest.length > MAX_ACTION_TEXT) return { ok: false, problem: `${word}: text longer than ${MAX_ACTION_TEXT} characters` };
  const name = word.toLowerCase();
  if (SIMPLE.has(name)) {
    if (rest) return { ok: false, problem: `${name} takes no argument (got "${clip(rest)}")` };
    return { ok: true, action: { name: name as SimpleAction } };
  }
  if (name === 'notification' || name === 'prompt_begin') return { ok: true, action: { name, text: rest } };
  if (name === 'prompt_choice' || name === 'prompt_button') {
    if (!rest) return { ok: false, problem: `${name} without a label` };
    return { ok: true, action: { name: 'prompt_choice', text: rest } };
  }
  return { ok: true, action: { name: 'other', action: name, argument: rest } };
}

const clip = (s: string): string => (s.length > 40 ? `${s.slice(0, 40)}…` : s);
