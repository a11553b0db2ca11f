/**
 * What a printer's host action commands and "wait for user" states do (protocol/host-actions.ts parses
 * them). Behaviour after OctoPrint (docs/features/action_commands.rst, comm.py, and its bundled
 * action_command_prompt / action_command_notification plugins) and Marlin (feature/host_actions.cpp,
 * feature/pause.cpp, gcode/host/M876.cpp):
 * - `pause` / `resume` / `cancel`: as if the buttons had been pressed here (the printer's own menu asked;
 *   Marlin's M25/M24 send them during a host print). `pause` parks the host's way.
 * - `paused` / `resumed`: the firmware paused and parks by itself (M600): stop feeding, no park, no un-park.
 * - `disconnect`: close the port cleanly. `notification <text>`: pushed to the UI. `start`: pushed as a
 *   notification (PrintBox has no "selected file" to start).
 * - prompts (host-prompt.ts): only with Cap:PROMPT_SUPPORT, as OctoPrint's default "detected" mode; after
 *   M115 reports it, `M876 P1` tells the firmware a host shows its prompts (OctoPrint's "signal support").
 * - `echo:busy: paused for user` without a prompt: a "Continue" dialog that sends M108, Marlin's way to
 *   release wait_for_user (M0/M1, M600) from the host.
 * Prompts, answers, notifications and actions are kept on the running job (JobControl.note) for the history.
 */
import { conflict } from '../../shared/errors.ts';
import type { HostPrompt, PrinterEvent } from '../../shared/ipc.ts';
import type { Logger } from '../../shared/log.ts';
import type { HostAction } from '../protocol/host-actions.ts';
import type { Response } from '../protocol/responses.ts';
import { HostPromptState, type PromptChange } from './host-prompt.ts';
import type { JobControl } from './job-control.ts';
import type { PrinterLink } from './link.ts';

export interface HostActionsDeps {
  id: string;
  log: Logger;
  emit: (ev: PrinterEvent) => void;
  jobs: JobControl;
  link: () => PrinterLink | undefined;
  capabilities: () => Record<string, boolean>;
  /** `//action:disconnect`: close the port (the printer then shows as disconnected until a reconnect). */
  disconnect: () => Promise<void>;
  /** The printer's info changed (its `prompt`): push it. */
  changed: () => void;
}

export class HostActions {
  private readonly prompts = new HostPromptState();

  constructor(private readonly deps: HostActionsDeps) {}

  get prompt(): HostPrompt | null { return this.prompts.open; }

  /** After M115: a firmware with Cap:PROMPT_SUPPORT is told that this host shows its prompts. */
  async connected(): Promise<void> {
    if (this.deps.capabilities().PROMPT_SUPPORT) await this.deps.link()?.run(['M876 P1'], 5000);
  }

  /** Every parsed firmware line passes here (after the printer's own handling). */
  handle(r: Response): void {
    switch (r.type) {
      case 'action': this.onAction(r.action); break;
      case 'action-malformed':
        // The line is in the terminal as received; the print is not touched.
        this.deps.log.warn('malformed host action command ignored', { id: this.deps.id, line: r.line.slice(0, 240), problem: r.problem });
        break;
      case 'busy': this.apply(r.forUser ? this.prompts.waiting() : this.prompts.progressed()); break;
      case 'ok': this.apply(this.prompts.progressed()); break;
      default: break;
    }
  }

  /**
   * The user's answer: `M876 S<n>` (M108 for a `wait` prompt), past the job's lines, and unnumbered when the
   * firmware has an emergency parser — Marlin reads M876 and M108 there (feature/e_parser.h) because the
   * command queue is blocked by the very M600/M0 that waits (OctoPrint force-sends M876 for the same reason).
   */
  answer(promptId: number, choice: number, user?: string): string {
    const link = this.deps.link();
    if (!link) throw conflict('not_connected', 'Printer is not connected');
    const a = this.prompts.answer(promptId, choice);
    if (this.deps.capabilities().EMERGENCY_PARSER) link.unnumbered(a.command); else link.command(a.command);
    this.deps.emit({ event: 'log', data: { id: this.deps.id, direction: 'sent', line: a.command } });
    this.deps.log.info('prompt answered', { id: this.deps.id, prompt: a.prompt.id, text: a.prompt.text, choice: a.label, command: a.command });
    this.deps.jobs.note({ kind: 'answer', text: a.label, user: user ?? null });
    this.apply(a.changes);
    return a.command;
  }

  /** Resuming a job the firmware paused while it still asks: the answer is what resumes it. */
  guardResume(): void {
    const p = this.prompts.open;
    if (p && this.deps.jobs.job?.state === 'paused' && this.deps.jobs.job.reason === 'firmware') {
      throw conflict('prompt_open', `The printer is waiting for an answer to “${p.text}”: answer it and the printer resumes by itself`);
    }
  }

  /** Port closed or board reset: whatever it asked is gone. */
  reset(): void { this.apply(this.prompts.reset()); }

  private onAction(a: HostAction): void {
    const { jobs, log, id } = this.deps;
    switch (a.name) {
      case 'prompt_begin': this.apply(this.ifPrompts(() => this.prompts.begin(a.text))); return;
      case 'prompt_choice': { const why = this.ifPrompts(() => this.prompts.choice(a.text)); if (why) log.warn('prompt button ignored', { id, why }); return; }
      case 'prompt_show': {
        const r = this.ifPrompts(() => this.prompts.show());
        if (typeof r === 'string') log.warn('prompt_show ignored', { id, why: r }); else this.apply(r ?? []);
        return;
      }
      case 'prompt_end': this.apply(this.ifPrompts(() => this.prompts.end()) ?? []); return;
      case 'notification':
        if (!a.text) return; // Marlin sends an empty one when its status line is cleared
        this.deps.emit({ event: 'notification', data: { id, text: a.text, at: new Date().toISOString() } });
        jobs.note({ kind: 'notification', text: a.text });
        return;
      case 'other': log.debug('host action ignored', { id, action: a.action, argument: a.argument }); return;
      default: break;
    }
    log.info('host action', { id, action: a.name });
    jobs.note({ kind: 'action', text: a.name });
    switch (a.name) {
      case 'pause': if (jobs.job?.state === 'printing') this.run('pause', jobs.pause('user')); break;
      case 'paused': jobs.firmwarePaused(); break;
      case 'resume':
        if (jobs.job?.state === 'paused') this.run('resume', jobs.job.reason === 'firmware' ? jobs.firmwareResumed() : jobs.resume());
        break;
      case 'resumed':
        // Our own park is never undone by the firmware's word: the user resumes a PrintBox pause here.
        if (jobs.job?.state === 'paused' && jobs.job.reason !== 'firmware') log.warn('resumed ignored: the job was paused by PrintBox', { id, reason: jobs.job.reason });
        else this.run('resume', jobs.firmwareResumed());
        break;
      case 'cancel': if (jobs.active) this.run('cancel', jobs.cancel()); break;
      case 'disconnect': this.run('disconnect', this.deps.disconnect()); break;
      case 'start':
        this.deps.emit({ event: 'notification', data: { id, text: 'The printer asks to start a print: choose a file in PrintBox', at: new Date().toISOString() } });
        break;
    }
  }

  /** Firmware prompts count only when the firmware said it has them (OctoPrint's default "detected"). */
  private ifPrompts<T>(fn: () => T): T | undefined {
    if (this.deps.capabilities().PROMPT_SUPPORT) return fn();
    this.deps.log.debug('prompt line ignored: no Cap:PROMPT_SUPPORT', { id: this.deps.id });
    return undefined;
  }

  private run(what: string, p: Promise<unknown>): void {
    p.catch((e) => this.deps.log.warn(`host action ${what} failed`, { id: this.deps.id, error: (e as Error).message }));
  }

  private apply(changes: PromptChange[] | undefined): void {
    if (!changes?.length) return;
    for (const c of changes) {
      if ('opened' in c) {
        this.deps.log.info('prompt shown', { id: this.deps.id, prompt: c.opened.id, source: c.opened.source, text: c.opened.text, choices: c.opened.choices });
        this.deps.jobs.note({ kind: 'prompt', text: c.opened.text, choices: c.opened.choices });
      }
    }
    this.deps.emit({ event: 'prompt', data: { id: this.deps.id, prompt: this.prompts.open } });
    this.deps.changed();
  }
}
