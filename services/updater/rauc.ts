/**
 * The update engine on the device: Debian's `rauc` client, which talks D-Bus to rauc.service (started on
 * demand by D-Bus activation). Read from RAUC 1.13's own output formats (docs/updates.md "RAUC"):
 * `info` and `status` print JSON on stdout and a lone error on stderr; `install` prints one progress line
 * per step ("  40% Updating slots"), then `LastError: …` when it fails. RAUC's own words reach the user.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { AppError } from '../shared/errors.ts';
import type { SlotInfo, SlotReport } from '../shared/ipc.ts';
import type { BundleInfo, Installer } from './installer.ts';

export interface RaucOptions {
  /** The client binary (tests put a recorder here). */
  bin?: string;
  /** The CA to check bundles against; on the device RAUC takes it from system.conf. */
  keyring?: string;
  timeoutMs?: number;
  /** The kernel command line, where our boot loader names the slot it started (`rauc.slot=A`). */
  cmdline?: string;
}

interface Run { code: number | null; stdout: string; stderr: string; missing: boolean }

/** Runs rauc without a shell, calling `onLine` for each stdout line as it arrives. */
function run(bin: string, args: string[], timeoutMs: number, onLine?: (line: string) => void): Promise<Run> {
  return new Promise((resolve) => {
    // English messages (the errors are matched below) in UTF-8: under plain C, GLib prints its quotes as '?'
    const child = spawn(bin, args, { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C.UTF-8' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let pending = '';
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
      pending += c;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      if (onLine) lines.forEach(onLine);
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
    child.on('error', (e: NodeJS.ErrnoException) => { clearTimeout(timer); resolve({ code: null, stdout, stderr: e.message, missing: e.code === 'ENOENT' }); });
    child.on('close', (code) => { clearTimeout(timer); if (pending && onLine) onLine(pending); resolve({ code, stdout, stderr, missing: false }); });
  });
}

/** The last line RAUC meant for a person: its LastError, else its error line, without GLib's log prefix. */
function said(r: Run): string {
  const last = /^LastError: (.*)$/m.exec(r.stdout)?.[1];
  if (last) return last.trim();
  const lines = r.stderr.split('\n').map((l) => l.replace(/^\(rauc:\d+\): rauc-\w+ \*\*: [\d:.]+: |^rauc-\w+: [\d:.]+: /, '').trim()).filter(Boolean);
  return lines.filter((l) => !/^Installing `.*` failed$/.test(l)).pop() ?? lines.pop() ?? `rauc exited with ${r.code}`;
}

/** One AppError for a refused or failed RAUC call; nothing was written when the bundle itself is refused. */
export function raucError(r: Run, what: string): AppError {
  if (r.missing) return new AppError('update_engine_missing', 503, 'The update engine (rauc) is not installed on this system');
  const text = said(r);
  if (/^signature verification failed|^No keyring/i.test(text)) return new AppError('update_bundle_invalid', 422, `The bundle is not signed by a key this device trusts (${text}); nothing was changed`);
  if (/^Invalid bundle format|^Failed mounting bundle|not allowed|^No such file/i.test(text)) return new AppError('update_bundle_invalid', 422, `The file is not a complete, usable update bundle (${text}); nothing was changed`);
  if (/^Compatible mismatch/i.test(text.replace(/^Installation error: /, ''))) return new AppError('update_incompatible', 422, `${text.replace(/^Installation error: /, '')}; nothing was changed`);
  if (/already processing|Failed to contact rauc service|D-Bus error/i.test(text)) return new AppError('update_engine_busy', 503, `${what}: the update engine is not available (${text})`);
  return new AppError('update_engine_failed', 502, `${what}: ${text}`);
}

const parseJson = (r: Run, what: string): unknown => {
  try { return JSON.parse(r.stdout); } catch { throw new AppError('update_engine_failed', 502, `${what}: rauc printed no JSON`); }
};

/** `rauc status --detailed --output-format=json`: slots are one-key objects in no fixed order. */
export function parseStatus(raw: unknown): SlotReport {
  const top = (raw ?? {}) as { compatible?: string; boot_primary?: string | null; slots?: Array<Record<string, Record<string, unknown>>> };
  const slots: SlotInfo[] = [];
  for (const entry of top.slots ?? []) {
    for (const [name, s] of Object.entries(entry)) {
      if (typeof s.bootname !== 'string') continue; // only bootable slots take a system
      const st = (s.slot_status ?? {}) as { bundle?: { version?: string }; installed?: { timestamp?: string } };
      slots.push({
        name, bootname: s.bootname, booted: s.state === 'booted', primary: name === top.boot_primary,
        health: typeof s.boot_status === 'string' ? s.boot_status : '',
        ...(st.bundle?.version ? { version: st.bundle.version } : {}),
        ...(st.installed?.timestamp ? { installed: st.installed.timestamp } : {}),
      });
    }
  }
  slots.sort((a, b) => a.bootname.localeCompare(b.bootname));
  return { compatible: top.compatible ?? '', booted: slots.find((s) => s.booted)?.bootname ?? '', slots };
}

/**
 * Our A/B boot script (image/boot/boot.cmd, run by U-Boot) puts `rauc.slot=` on the kernel command line; a
 * board the firmware boots directly (the Raspberry Pi 5) starts without it. Installing there would write the
 * other slot and ask the boot loader for a switch that never comes, so it is refused before RAUC runs.
 */
async function bootsThroughAB(cmdline: string): Promise<boolean> {
  const text = await fs.promises.readFile(cmdline, 'utf8').catch(() => '');
  return /(^|\s)rauc\.slot=\S/.test(text);
}

export function raucInstaller(opts: RaucOptions = {}): Installer {
  const bin = opts.bin ?? 'rauc';
  const timeout = opts.timeoutMs ?? 60_000;
  return {
    async inspect(bundle): Promise<BundleInfo> {
      const r = await run(bin, ['info', '--output-format=json', ...(opts.keyring ? [`--keyring=${opts.keyring}`] : []), bundle], timeout);
      if (r.code !== 0) throw raucError(r, 'Checking the bundle');
      const m = parseJson(r, 'Checking the bundle') as { compatible?: string | null; version?: string | null };
      if (!m.compatible || !m.version) throw new AppError('update_bundle_invalid', 422, 'The bundle names no compatible string or no version; nothing was changed');
      return { compatible: m.compatible, version: m.version };
    },
    async install(bundle, onProgress) {
      if (!(await bootsThroughAB(opts.cmdline ?? '/proc/cmdline'))) {
        throw new AppError('update_board_unsupported', 409, 'This board boots without the A/B boot loader, so system updates cannot be installed on it; re-flash the card with the new image instead. Nothing was changed');
      }
      // writing a slot on an SD card takes minutes; RAUC itself has no timeout, nor does this
      const r = await run(bin, ['install', bundle], 6 * 3600_000, (line) => {
        const m = /^\s*(\d{1,3})% (.*)$/.exec(line);
        if (m) onProgress(Math.min(100, Number(m[1])), m[2]!.trim());
      });
      if (r.code !== 0) throw raucError(r, 'Installing');
    },
    async slots() {
      const r = await run(bin, ['status', '--detailed', '--output-format=json'], timeout);
      if (r.code !== 0) throw raucError(r, 'Reading the slots');
      return parseStatus(parseJson(r, 'Reading the slots'));
    },
    async activateOther() {
      const r = await run(bin, ['status', 'mark-active', 'other'], timeout);
      if (r.code !== 0) throw raucError(r, 'Switching back');
    },
    async markGood() {
      const r = await run(bin, ['status', 'mark-good', 'booted'], timeout);
      if (r.code !== 0) throw raucError(r, 'Marking this boot good');
    },
    async markBad() {
      const r = await run(bin, ['status', 'mark-bad', 'booted'], timeout);
      if (r.code !== 0) throw raucError(r, 'Marking this boot bad');
    },
  };
}
