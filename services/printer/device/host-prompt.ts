/**
 * One printer's host prompt, as a small state machine:
 *   idle ─prompt_begin→ drafting ─prompt_button*→ drafting ─prompt_show→ open ─answer / prompt_end→ idle
 * and, for firmware that waits for the user without a prompt of its own (`echo:busy: paused for user`
 * from M0/M1 or M600 without HOST_PROMPT_SUPPORT), a `wait` prompt whose one button sends M108.
 * The rules follow OctoPrint's action_command_prompt plugin: buttons and show only count after a begin,
 * an answer closes the prompt at once (the firmware's prompt_end may come later or never), an answer must
 * name a valid choice. Unlike OctoPrint, a begin while a prompt is open replaces it: Marlin's
 * host_action_prompt_begin always sends prompt_end first, so a begin without one means the firmware moved on.
 * Pure: the caller sends the answer and pushes the changes.
 */
import { AppError, conflict } from '../../shared/errors.ts';
import type { HostPrompt } from '../../shared/ipc.ts';

/** M876 S takes a byte (Marlin parser.value_byte()); no firmware offers more than a handful of buttons. */
const MAX_CHOICES = 10;
/** Marlin's DEFAULT_KEEPALIVE_INTERVAL is 2 s: a "paused for user" sent before our M108 arrived may still come. */
const WAIT_QUIET_MS = 2500;
export const WAIT_TEXT = 'The printer is waiting for you (paused for user). Continue when ready.';

export type PromptChange = { opened: HostPrompt } | { closed: HostPrompt; why: 'answered' | 'firmware' | 'replaced' | 'disconnected' };

export class HostPromptState {
  private draft: { text: string; choices: string[] } | null = null;
  private current: HostPrompt | null = null;
  private nextId = 1;
  private quietUntil = 0;

  constructor(private readonly now: () => number = Date.now) {}

  get open(): HostPrompt | null { return this.current; }

  /** `//action:prompt_begin <text>`. */
  begin(text: string): PromptChange[] {
    const out = this.close('replaced');
    this.draft = { text, choices: [] };
    return out;
  }

  /** `//action:prompt_button <label>` / `prompt_choice`: undefined when ignored (why in the string). */
  choice(label: string): string | undefined {
    if (!this.draft) return 'prompt_button without prompt_begin';
    if (this.draft.choices.length >= MAX_CHOICES) return `more than ${MAX_CHOICES} buttons`;
    this.draft.choices.push(label);
    return undefined;
  }

  /** `//action:prompt_show`: the drafted prompt opens. A prompt without buttons gets none (informational). */
  show(): PromptChange[] | string {
    if (!this.draft) return 'prompt_show without prompt_begin';
    const out = this.close('replaced');
    this.current = { id: this.nextId++, source: 'firmware', text: this.draft.text, choices: this.draft.choices, opened_at: new Date(this.now()).toISOString() };
    this.draft = null;
    out.push({ opened: this.current });
    return out;
  }

  /** `//action:prompt_end`. */
  end(): PromptChange[] { this.draft = null; return this.close('firmware'); }

  /**
   * `echo:busy: paused for user`: the firmware waits. With a prompt of its own open (or being drafted) that
   * prompt is the dialog; otherwise a `wait` prompt opens, unless we have just answered one.
   */
  waiting(): PromptChange[] {
    if (this.current || this.draft || this.now() < this.quietUntil) return [];
    this.current = { id: this.nextId++, source: 'wait', text: WAIT_TEXT, choices: ['Continue'], opened_at: new Date(this.now()).toISOString() };
    return [{ opened: this.current }];
  }

  /** An `ok` or `busy: processing`: the firmware is no longer waiting, so a `wait` prompt is over. */
  progressed(): PromptChange[] {
    return this.current?.source === 'wait' ? this.close('firmware') : [];
  }

  /**
   * The user's answer: the prompt closes and the command to send is returned (M876 S<n>, or M108 for a
   * `wait` prompt). 409 when `promptId` is not the open prompt, 400 for a choice it does not offer.
   */
  answer(promptId: number, choice: number): { command: string; prompt: HostPrompt; label: string; changes: PromptChange[] } {
    const p = this.current;
    if (!p || p.id !== promptId) {
      throw conflict('prompt_closed', p ? `Prompt ${promptId} is no longer open: the printer now asks “${p.text}” (prompt ${p.id})`
        : `Prompt ${promptId} is no longer open: it was answered already or the printer closed it`);
    }
    if (!Number.isInteger(choice) || choice < 0 || choice >= p.choices.length) {
      throw new AppError('bad_choice', 400, p.choices.length
        ? `choice must be a whole number from 0 to ${p.choices.length - 1} (${p.choices.map((c, i) => `${i}: ${c}`).join(', ')})`
        : 'This prompt has no buttons: it only informs');
    }
    if (p.source === 'wait') this.quietUntil = this.now() + WAIT_QUIET_MS;
    const changes = this.close('answered');
    return { command: p.source === 'wait' ? 'M108' : `M876 S${choice}`, prompt: p, label: p.choices[choice]!, changes };
  }

  /** The port closed or the board reset: nothing it asked is still open. */
  reset(): PromptChange[] { this.draft = null; this.quietUntil = 0; return this.close('disconnected'); }

  private close(why: 'answered' | 'firmware' | 'replaced' | 'disconnected'): PromptChange[] {
    const p = this.current;
    if (!p) return [];
    this.current = null;
    return [{ closed: p, why }];
  }
}
