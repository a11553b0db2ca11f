/**
 * `printbox update check | apply [VERSION|FILE|URL] | status | cancel | rollback` for SSH admins. It talks
 * to printbox-update over update.sock (group printbox-ipc, or root), not to the web: an update must still be
 * possible when the web is what is broken. `apply` follows the progress until the device restarts.
 */
import path from 'node:path';
import { AppError } from '../shared/errors.ts';
import type { ApplyRequest, UpdateApi, UpdateStatus } from '../shared/ipc.ts';
import type { IpcClient } from '../shared/ipc-transport.ts';

export interface UpdateCliDeps {
  update: IpcClient<UpdateApi>;
  stdout: (text: string) => void;
  /** Polling interval while following an update (ms). */
  pollMs?: number;
}

export const UPDATE_USAGE = `  printbox update status [--json]   Running version, slots, what is offered and what is happening
  printbox update check             Ask the update server now
  printbox update apply [VERSION | FILE | URL] [--allow-downgrade] [--detach]
      Install the offered release (or that version), a bundle on this device, or one at a URL. It
      downloads now, installs when no printer prints, then restarts; --detach returns at once.
  printbox update cancel            Stop a download or a wait (not once the bundle is being written)
  printbox update rollback          Start the previous version again (after the running print)
`;

/** What the argument of `apply` names: a URL, a path (absolute, or with a slash or .raucb), else a version. */
export function applySource(arg: string | undefined, cwd: string): ApplyRequest {
  if (arg === undefined) return {};
  if (/^https?:\/\//i.test(arg)) return { url: arg };
  if (arg.includes('/') || arg.endsWith('.raucb')) return { file: path.resolve(cwd, arg) };
  return { version: arg };
}

export function describeStatus(s: UpdateStatus): string {
  const lines = [`Version:    ${s.current.version} (${s.current.compatible})`];
  for (const slot of s.slots?.slots ?? []) {
    const tags = [slot.booted ? 'running' : '', slot.primary ? 'next boot' : '', slot.health].filter(Boolean).join(', ');
    lines.push(`Slot ${slot.bootname}:     ${slot.version ?? 'unknown version'}${tags ? ` (${tags})` : ''}`);
  }
  lines.push(`Channel:    ${s.settings.channel}${s.settings.channel === 'custom' ? ` ${s.settings.url}` : ''}${s.settings.automatic ? ', automatic' : ''}`);
  lines.push(`Offered:    ${s.available ? `${s.available.version} (${(s.available.size / 1e6).toFixed(0)} MB)` : s.lastCheck ? 'nothing newer' : 'not checked yet'}`);
  lines.push(`Now:        ${s.phase}${s.progress ? ` — ${s.progress.percent} % ${s.progress.message}` : ''}${s.waitingFor?.length ? ` (printing: ${s.waitingFor.join(', ')})` : ''}`);
  if (s.error) lines.push(`Last error: ${s.error.message} [${s.error.code}]`);
  if (s.last) lines.push(`Last:       ${s.last.message} (${s.last.at})`);
  if (s.pending) lines.push(`Pending:    ${s.pending.to} in slot ${s.pending.slot}, starts at the next restart`);
  return lines.join('\n') + '\n';
}

/** Prints each new step until the update restarts the device (0) or stops with an error (1). */
async function follow(deps: UpdateCliDeps): Promise<number> {
  let said = '';
  for (;;) {
    const s = await deps.update.call('update.status', {});
    const line = s.progress ? `${s.phase}: ${s.progress.percent} % ${s.progress.message}` : s.phase;
    if (line !== said) { deps.stdout(line + '\n'); said = line; }
    if (s.phase === 'rebooting') return 0;
    if (s.phase === 'idle') {
      if (s.error) throw new AppError(s.error.code, 1, s.error.message);
      return 0;
    }
    await new Promise((r) => setTimeout(r, deps.pollMs ?? 1000));
  }
}

export async function updateCommand(deps: UpdateCliDeps, args: { sub?: string; arg?: string; json: boolean; allowDowngrade: boolean; detach: boolean; cwd: string }): Promise<number> {
  switch (args.sub) {
    case 'status': {
      const s = await deps.update.call('update.status', {});
      deps.stdout(args.json ? JSON.stringify(s, null, 2) + '\n' : describeStatus(s));
      return 0;
    }
    case 'check': {
      const s = await deps.update.call('update.check', {}, 40_000);
      deps.stdout(s.available ? `Version ${s.available.version} is available (running ${s.current.version}): printbox update apply\n` : `PrintBox ${s.current.version} is up to date.\n`);
      return 0;
    }
    case 'apply': {
      const req = { ...applySource(args.arg, args.cwd), ...(args.allowDowngrade ? { allowDowngrade: true } : {}) };
      if (!req.file && !req.url) {
        const checked = await deps.update.call('update.check', {}, 40_000);
        if (!checked.available && !req.version) { deps.stdout(`PrintBox ${checked.current.version} is up to date.\n`); return 0; }
      }
      await deps.update.call('update.apply', req);
      if (args.detach) { deps.stdout('Update started: printbox update status\n'); return 0; }
      return follow(deps);
    }
    case 'cancel': {
      await deps.update.call('update.cancel', {});
      deps.stdout('Cancelled.\n');
      return 0;
    }
    case 'rollback': {
      await deps.update.call('update.rollback', {}, 30_000);
      if (args.detach) { deps.stdout('Going back to the previous version after the running print.\n'); return 0; }
      return follow(deps);
    }
    default:
      throw new AppError('usage', 2, `Unknown update command "${args.sub ?? ''}"\n${UPDATE_USAGE}`);
  }
}
