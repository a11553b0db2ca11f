/**
 * Host action commands without a printer: the `//action:` parser (well-formed, unknown, malformed), the
 * prompt state machine (begin → buttons → show → answer / end; waits for the user; stale and bad answers),
 * the job source that sends M0/M1/M600 alone, and the OctoPrint push messages for prompts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppError } from '../../services/shared/errors.ts';
import { parseHostAction } from '../../services/printer/protocol/host-actions.ts';
import { parseResponse } from '../../services/printer/protocol/responses.ts';
import { HostPromptState } from '../../services/printer/device/host-prompt.ts';
import { BlockingSource } from '../../services/printer/jobs/blocking-source.ts';
import type { JobLine, LineSource } from '../../services/printer/protocol/sender.ts';
import { promptMessage } from '../../services/web/octoprint/push-state.ts';

test('//action: lines parse into actions; other lines are not actions', () => {
  assert.deepEqual(parseHostAction('//action:paused'), { ok: true, action: { name: 'paused' } });
  assert.deepEqual(parseHostAction('// action:resume'), { ok: true, action: { name: 'resume' } });
  assert.deepEqual(parseHostAction('//action:prompt_begin Nozzle Parked'), { ok: true, action: { name: 'prompt_begin', text: 'Nozzle Parked' } });
  assert.deepEqual(parseHostAction('//action:prompt_button Continue'), { ok: true, action: { name: 'prompt_choice', text: 'Continue' } });
  assert.deepEqual(parseHostAction('//action:prompt_choice Yes'), { ok: true, action: { name: 'prompt_choice', text: 'Yes' } });
  assert.deepEqual(parseHostAction('//action:notification Heating done'), { ok: true, action: { name: 'notification', text: 'Heating done' } });
  assert.deepEqual(parseHostAction('//action:sd_inserted'), { ok: true, action: { name: 'other', action: 'sd_inserted', argument: '' } });
  assert.equal(parseHostAction('echo:busy: paused for user'), undefined);
  assert.equal(parseHostAction('// a comment'), undefined);
});

test('malformed //action: lines are reported with the problem', () => {
  for (const [line, problem] of [
    ['//action:', /name missing/], ['//action:   ', /name missing/], ['//action:pa!use', /invalid action name/],
    ['//action:pause now', /takes no argument/], ['//action:prompt_button', /without a label/],
    ['//action:notification bad\u0007bell', /unprintable/], [`//action:prompt_begin ${'x'.repeat(201)}`, /longer than 200/],
  ] as const) {
    const r = parseHostAction(line);
    assert.ok(r && !r.ok, line);
    assert.match((r as { problem: string }).problem, problem, line);
  }
  assert.equal(parseResponse('//action:pa!use').type, 'action-malformed');
  assert.deepEqual(parseResponse('echo:busy: paused for user'), { type: 'busy', forUser: true });
  assert.deepEqual(parseResponse('echo:busy: processing'), { type: 'busy' });
});

test('prompt: begin, buttons, show opens it; an answer closes it and names M876 S<n>; stale and bad answers refused', () => {
  const s = new HostPromptState();
  assert.deepEqual(s.begin('Nozzle Parked'), []);
  assert.equal(s.choice('Continue'), undefined);
  const shown = s.show();
  assert.ok(Array.isArray(shown));
  const p = s.open!;
  assert.deepEqual([p.text, p.choices, p.source], ['Nozzle Parked', ['Continue'], 'firmware']);
  const code = (fn: () => unknown) => { try { fn(); } catch (e) { return `${(e as AppError).status} ${(e as AppError).code}`; } return 'ok'; };
  assert.equal(code(() => s.answer(p.id, 1)), '400 bad_choice');
  assert.equal(code(() => s.answer(p.id, -1)), '400 bad_choice');
  assert.equal(code(() => s.answer(p.id, 0.5)), '400 bad_choice');
  assert.equal(code(() => s.answer(p.id + 1, 0)), '409 prompt_closed');
  const a = s.answer(p.id, 0);
  assert.equal(a.command, 'M876 S0');
  assert.equal(a.label, 'Continue');
  assert.equal(s.open, null);
  assert.equal(code(() => s.answer(p.id, 0)), '409 prompt_closed', 'answered already');
  // buttons and show only count after a begin
  assert.equal(typeof s.choice('Stray'), 'string');
  assert.equal(typeof s.show(), 'string');
});

test('prompt: a new begin replaces an open prompt; prompt_end closes it; ids increase', () => {
  const s = new HostPromptState();
  s.begin('Pause'); s.choice('Dismiss'); s.show();
  const first = s.open!;
  const changes = s.begin('Nozzle Parked');
  assert.deepEqual(changes, [{ closed: first, why: 'replaced' }]);
  s.choice('Continue'); s.show();
  assert.ok(s.open!.id > first.id);
  assert.equal(s.end().length, 1);
  assert.equal(s.open, null);
  assert.deepEqual(s.end(), [], 'nothing open: nothing to close');
});

test('wait for user: a Continue prompt sending M108, closed by progress, not reopened by a keepalive already in flight', () => {
  let now = 1000;
  const s = new HostPromptState(() => now);
  const [opened] = s.waiting();
  assert.ok(opened && 'opened' in opened && opened.opened.source === 'wait');
  assert.deepEqual(s.waiting(), [], 'already open');
  assert.equal(s.answer(s.open!.id, 0).command, 'M108');
  assert.deepEqual(s.waiting(), [], 'a keepalive sent before our M108 arrived');
  now += 3000;
  assert.equal(s.waiting().length, 1, 'still waiting later: shown again');
  assert.equal(s.progressed().length, 1, 'an ok: the firmware moved on');
  // with a firmware prompt open, "paused for user" is that prompt
  s.begin('Insert'); s.choice('Continue'); s.show();
  assert.deepEqual(s.waiting(), []);
  assert.deepEqual(s.progressed(), [], 'a firmware prompt is closed by the firmware, not by an ok');
});

test('M0/M1/M600 go out alone: after every earlier line is acknowledged, and nothing follows until they are', () => {
  const lines = ['G1 X1', 'G1 X2', 'M600', 'G1 X3', 'M0 Hi', 'G1 X4'].map((cmd, index): JobLine => ({ cmd, index, byteEnd: index }));
  let i = 0;
  const inner: LineSource = { next: () => lines[i++] ?? null, onReady: () => undefined };
  let acked = 0;
  let readies = 0;
  const src = new BlockingSource(inner, () => acked);
  src.onReady(() => readies++);
  assert.equal((src.next() as JobLine).cmd, 'G1 X1');
  assert.equal((src.next() as JobLine).cmd, 'G1 X2');
  assert.equal(src.next(), 'wait', 'M600 waits for G1 X2');
  acked = 2; src.onAcked();
  assert.equal(readies, 1);
  assert.equal((src.next() as JobLine).cmd, 'M600');
  assert.equal(src.next(), 'wait', 'nothing after M600 until it is acknowledged');
  acked = 3; src.onAcked();
  assert.equal((src.next() as JobLine).cmd, 'G1 X3');
  assert.equal(src.next(), 'wait');
  acked = 4;
  assert.equal((src.next() as JobLine).cmd, 'M0 Hi');
  acked = 5;
  assert.equal((src.next() as JobLine).cmd, 'G1 X4');
  assert.equal(src.next(), null);
});

test('OctoPrint push: prompts as the action_command_prompt plugin sends them', () => {
  assert.deepEqual(promptMessage({ id: 3, source: 'firmware', text: 'Paused', choices: ['PurgeMore', 'Continue'], opened_at: '2026-01-01T00:00:00Z' }),
    { action: 'show', text: 'Paused', choices: ['PurgeMore', 'Continue'] });
  assert.deepEqual(promptMessage(null), { action: 'close' });
});
