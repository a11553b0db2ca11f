/**
 * The virtual Marlin's host actions and "wait for user" states, so tests (and the demo printers) can
 * drive PrintBox's prompt dialogs. What it prints follows Marlin 2.1: feature/host_actions.cpp (line
 * format, prompt_begin always preceded by prompt_end), feature/pause.cpp (M600: `paused`, the "Pause"
 * info prompt, "Nozzle Parked"/Continue while waiting for the user, "Paused"/PurgeMore/Continue after
 * loading, `resumed`), gcode/config/M0_M1.cpp (continue prompt, default text "Click to Resume..."),
 * gcode/sd/M24_M25.cpp (M25 during a host print: `//action:pause` and "Pause SD"/Resume; answering
 * Resume injects M24, which says `//action:resume`), gcode/host/M876.cpp, and the PAUSED_FOR_USER
 * keepalive `echo:busy: paused for user` (gcode/gcode.cpp host_keepalive).
 * Simplified: no real park or filament moves; the "Paused" PurgeMore/Continue prompt waits for an
 * answer as on a printer with an LCD (M600_PURGE_MORE_RESUMABLE), and M108 also ends it.
 */

export interface HostSimOptions {
  /** Cap:HOST_ACTION_COMMANDS: `//action:paused`, `resumed`, `pause`, `resume`, `cancel`. */
  hostActions: boolean;
  /** Cap:PROMPT_SUPPORT: host prompts, answered with M876 S<n>. */
  promptSupport: boolean;
  /** Marlin's DEFAULT_KEEPALIVE_INTERVAL (2 s); tests use less. */
  keepaliveMs: number;
}

type Reason = 'info' | 'continue' | 'purge' | 'pause-resume';

export class HostActionSim {
  /** What the firmware's prompt is about (Marlin's host_prompt_reason), and what a wait is waiting for. */
  private reason: Reason | null = null;
  private waiting: { release: (choice: number) => void } | null = null;
  private keepalive: NodeJS.Timeout | undefined;
  /** Every M876 S<n> the firmware acted on, in order (tests check the answers). */
  readonly answers: number[] = [];
  /** Set by M876 P1: the host said it shows prompts. */
  hostPromptSupport = false;

  constructor(private readonly opts: HostSimOptions, private readonly reply: (line: string) => void) {}

  /** M115's extra Cap: lines (only for a board built with either feature, like Marlin). */
  capLines(): string[] {
    if (!this.opts.hostActions && !this.opts.promptSupport) return [];
    return [`Cap:HOST_ACTION_COMMANDS:${this.opts.hostActions ? 1 : 0}`, `Cap:PROMPT_SUPPORT:${this.opts.promptSupport ? 1 : 0}`];
  }

  /** Commands handled here; undefined for any other. A promise delays the command's `ok` (the wait). */
  run(word: string, cmd: string): Promise<undefined> | 'done' | undefined {
    switch (word) {
      case 'M0': case 'M1': return this.userWait(cmd.replace(/^M[01]\s*/i, '').trim() || 'Click to Resume...');
      case 'M600': return this.filamentChange();
      case 'M25': this.menuPause(); return 'done';
      case 'M876': {
        const s = /\bS(\d+)/.exec(cmd);
        if (s) this.respond(Number(s[1]));
        else if (/\bP1\b/.test(cmd)) this.hostPromptSupport = true;
        return 'done';
      }
      case 'M108': this.userContinue(); return 'done';
      // HOST_STATUS_NOTIFICATIONS: a status message (M117) also goes to the host (MarlinUI::set_status → hostui.notify).
      case 'M117': { const text = cmd.replace(/^M117\s?/i, '').trim(); if (text) this.notify(text); return 'done'; }
      default: return undefined;
    }
  }

  /** The printer's menu "Pause print" during a host print (Marlin injects M25). */
  menuPause(): void {
    this.action('pause');
    this.prompt('pause-resume', 'Pause SD', ['Resume']);
  }

  /** The printer's menu "Resume print" / "Stop print" during a host print. */
  menuResume(): void { this.action('resume'); }
  menuCancel(): void { this.action('cancel'); }

  /** A notification (M117 with HOST_STATUS_NOTIFICATIONS, or any status message). */
  notify(text: string): void { if (this.opts.hostActions) this.reply(`//action:notification ${text}`); }

  /** M108 (queue or emergency parser): releases wait_for_user. */
  userContinue(): void {
    if (this.reason === 'continue' || this.reason === 'purge') this.release(1);
    else if (this.waiting) this.release(0);
  }

  /** M876 S<n>: Marlin's host_response_handler, by the reason of the prompt it answers. */
  respond(choice: number): void {
    this.answers.push(choice);
    const reason = this.reason;
    this.reason = null;
    switch (reason) {
      case 'continue': this.release(0); break;
      case 'purge': this.release(choice); break;
      case 'pause-resume': this.action('resume'); break; // the injected M24 during a host print
      default: break; // info prompt dismissed, or nothing asked
    }
  }

  /** Board reset: whatever it waited for is forgotten (the command's ok never comes). */
  reset(): void {
    this.stopKeepalive();
    this.waiting = null; this.reason = null; this.hostPromptSupport = false;
  }

  close(): void { this.stopKeepalive(); }

  private async userWait(text: string): Promise<undefined> {
    this.prompt('continue', text, ['Continue']);
    await this.waitForUser();
    if (this.opts.promptSupport) this.reply('//action:prompt_end');
    return undefined;
  }

  private async filamentChange(): Promise<undefined> {
    this.action('paused');
    this.prompt('info', 'Pause', ['Dismiss']);
    this.reply('echo:Insert filament and send M108');
    this.prompt('continue', 'Nozzle Parked', ['Continue']);
    await this.waitForUser();
    if (this.opts.promptSupport) {
      // "Purge More" (0) purges and asks again; "Continue" (1) resumes.
      for (;;) {
        this.prompt('purge', 'Paused', ['PurgeMore', 'Continue']);
        if ((await this.waitForUser()) !== 0) break;
      }
      this.reply('//action:prompt_end');
    }
    this.action('resumed');
    return undefined;
  }

  private waitForUser(): Promise<number> {
    return new Promise((resolve) => {
      this.waiting = { release: resolve };
      const say = () => this.reply('echo:busy: paused for user');
      say();
      this.stopKeepalive();
      this.keepalive = setInterval(say, this.opts.keepaliveMs);
      this.keepalive.unref();
    });
  }

  private release(choice: number): void {
    const w = this.waiting;
    if (!w) return;
    this.waiting = null; this.reason = null;
    this.stopKeepalive();
    w.release(choice);
  }

  private stopKeepalive(): void { clearInterval(this.keepalive); this.keepalive = undefined; }

  private action(name: string): void { if (this.opts.hostActions) this.reply(`//action:${name}`); }

  private prompt(reason: Reason, text: string, buttons: string[]): void {
    this.reason = reason;
    if (!this.opts.promptSupport) return;
    this.reply('//action:prompt_end');
    this.reply(`//action:prompt_begin ${text}`);
    for (const b of buttons) this.reply(`//action:prompt_button ${b}`);
    this.reply('//action:prompt_show');
  }
}
