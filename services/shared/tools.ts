/**
 * Runs the system's own clients (nmcli, hostnamectl, timedatectl, systemctl, rauc) without a shell. They
 * talk D-Bus to NetworkManager, systemd-hostnamed, systemd-timedated, systemd-logind and RAUC, which
 * decide whether the calling user may act (polkit rules and D-Bus policy in the image grant the PrintBox
 * users exactly their actions). No PrintBox service runs as root for this.
 */
import { execFile } from 'node:child_process';
import { AppError, forbidden, unavailable } from './errors.ts';

export interface ToolRun {
  /** Written to the tool's stdin (secrets go here, never into argv, which `ps` shows to every user). */
  input?: string;
  timeoutMs?: number;
}

/** Resolves stdout; rejects with the child error, its stderr attached as `stderr`. */
export type Tool = (cmd: string, args: string[], opts?: ToolRun) => Promise<string>;

export const execTool: Tool = (cmd, args, opts = {}) => new Promise((resolve, reject) => {
  const child = execFile(cmd, args, {
    timeout: opts.timeoutMs ?? 15_000,
    maxBuffer: 4 * 1024 * 1024,
    // C locale: the output is parsed, and polkit's refusals are matched in English
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
  }, (err, stdout, stderr) => (err ? reject(Object.assign(err, { stderr })) : resolve(stdout)));
  // a tool that exits (or fails to start) before reading its stdin makes this write EPIPE: the exit callback reports it
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(opts.input ?? '');
});

/** polkit and the D-Bus services word a refusal like this (nmcli, hostnamectl, timedatectl, systemctl). */
const DENIED = /not authori[sz]ed|access denied|permission denied|interactive authentication required|insufficient privileges/i;

/** One AppError for a failed tool run: missing tool 503, polkit refusal 403, anything else `code` with the tool's own words. */
export function toolError(err: unknown, code: string, what: string, status = 502): AppError {
  if (err instanceof AppError) return err;
  const e = err as NodeJS.ErrnoException & { stderr?: string; killed?: boolean };
  const cmd = (e.message ?? '').match(/^Command failed: (\S+)/)?.[1] ?? 'the system tool';
  if (e.code === 'ENOENT') return unavailable('system_tool_missing', `${what}: ${e.path ?? cmd} is not installed on this system`);
  const said = (e.stderr ?? '').trim().split('\n').filter(Boolean).pop()?.replace(/^Error:\s*/, '') ?? '';
  if (DENIED.test(said)) return forbidden('system_not_permitted', `${what}: the system refused (${said}). The image's polkit rule grants these actions to the printbox user.`);
  if (e.killed) return new AppError(code, 504, `${what}: no answer in time`);
  return new AppError(code, status, `${what}: ${said || 'failed'}`);
}
