/**
 * `printbox link | unlink | offline | status` — console access to the cloud link for headless
 * devices. The CLI uses the link store in the data dir directly (shared/link), not the web API:
 * it works when printbox-web is stopped or broken, needs no TLS trust of the device certificate,
 * and the web reads the same files on every request, so it shows the CLI's change immediately.
 * Running it needs write access to the data dir (root over SSH: `sudo printbox link`).
 */
import { AppError } from '../shared/errors.ts';
import type { LinkCredentials } from '../shared/cloud-client.ts';
import type { PrinterApi } from '../shared/ipc.ts';
import type { IpcClient } from '../shared/ipc-transport.ts';
import type { CloudLink, CloudStatus } from '../shared/link/service.ts';
import { askHidden, askVisible, lineReader, type Io } from './prompt.ts';
import { UPDATE_USAGE } from './update.ts';

export interface CliDeps {
  link: CloudLink;
  printer: IpcClient<PrinterApi>;
  io: Io;
  stdout: (text: string) => void;
}

export const USAGE = `Usage:
  printbox link [--email EMAIL] [--link-token TOKEN] [--cloud-url URL]
      Link this PrintBox to a cloud account. On a terminal it asks for the email and the password
      (not echoed). In scripts, pass --email and send the password on stdin (first line), or use
      --link-token (or "--link-token -" to read it from stdin).
  printbox unlink            Unlink from the cloud (refused while a print is running)
  printbox offline           Use PrintBox without a cloud
  printbox status [--json]   Cloud link, first-boot result and printers
${UPDATE_USAGE}`;

export interface LinkArgs { email?: string; linkToken?: string; cloudUrl?: string }

export async function linkCommand(deps: CliDeps, args: LinkArgs): Promise<number> {
  const interactive = Boolean(deps.io.stdin.isTTY);
  const nextLine = interactive ? undefined : lineReader(deps.io.stdin);
  let creds: LinkCredentials;
  if (args.linkToken !== undefined) {
    const token = args.linkToken === '-' ? (await nextLine?.())?.trim() ?? (interactive ? await askHidden(deps.io, 'Link token: ') : undefined) : args.linkToken;
    if (!token) throw new AppError('usage', 2, 'No link token given');
    creds = { link_token: token };
  } else {
    const email = args.email ?? (interactive ? (await askVisible(deps.io, 'Cloud account email: ')).trim() : undefined);
    if (!email) throw new AppError('usage', 2, 'No email given (use --email in scripts)');
    const password = interactive ? await askHidden(deps.io, 'Password: ') : await nextLine!();
    if (!password) throw new AppError('usage', 2, 'No password given (send it on stdin, first line)');
    creds = { email, password };
  }
  const st = await deps.link.link(creds, args.cloudUrl ? { cloudUrl: args.cloudUrl } : {});
  deps.stdout(`Linked to the cloud as ${st.owner?.email}.\n`);
  return 0;
}

export async function unlinkCommand(deps: CliDeps): Promise<number> {
  const st = await deps.link.unlink();
  deps.stdout(st.cloud_notified ? 'Unlinked from the cloud.\n' : 'Unlinked on this device (the cloud was not reachable to be told).\n');
  return 0;
}

export async function offlineCommand(deps: CliDeps): Promise<number> {
  await deps.link.goOffline();
  deps.stdout('Offline mode: PrintBox runs without a cloud.\n');
  return 0;
}

interface PrinterSummary { id: string; state: string; job?: string }

export async function statusCommand(deps: CliDeps, json: boolean): Promise<number> {
  const cloud: CloudStatus = await deps.link.resume();
  let printers: PrinterSummary[] | { error: string };
  try {
    const list = await deps.printer.call('printers.list', {}, 3000);
    printers = list.map((p) => ({ id: p.id, state: p.state, ...(p.job ? { job: `${p.job.file} ${Math.round(p.job.progress * 100)}%` } : {}) }));
  } catch (e) {
    printers = { error: (e as Error).message };
  }
  if (json) { deps.stdout(JSON.stringify({ cloud, printers }, null, 2) + '\n'); return 0; }
  const lines = [`Cloud:      ${describeCloud(cloud)}`];
  if (cloud.firstboot) {
    lines.push(`First boot: ${cloud.firstboot.result}${cloud.firstboot.error ? ` — ${cloud.firstboot.error}` : ''} (${cloud.firstboot.at})`);
  }
  if ('error' in printers) lines.push(`Printers:   unknown — ${printers.error}`);
  else if (!printers.length) lines.push('Printers:   none connected');
  else printers.forEach((p, i) => lines.push(`${i ? '            ' : 'Printers:   '}${p.id}: ${p.state}${p.job ? ` (${p.job})` : ''}`));
  deps.stdout(lines.join('\n') + '\n');
  return 0;
}

function describeCloud(s: CloudStatus): string {
  if (s.state === 'linked') return `linked to ${s.owner?.email}${s.connected === false ? ' (cloud not reachable right now)' : ''}`;
  return s.state === 'offline' ? 'offline mode (no cloud)' : 'not linked — run `printbox link`';
}
