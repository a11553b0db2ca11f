/**
 * When an update happens (docs/updates.md): check the channel's index, download in the background, wait
 * until no printer prints or waits paused, let the engine install into the other slot, wait again, then
 * restart. One operation at a time; each step shows its progress. The boot that follows tells whether the
 * new slot took over (installed) or the old one came back (rolled back); the reboot is recognised by
 * the kernel's boot id, so a restart of this service alone is never mistaken for it. The last check's
 * answer and the last failure are kept in the state file too: the service exits when idle (main.ts), and
 * starting again must not forget a release the user was shown.
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError, badRequest, conflict } from '../shared/errors.ts';
import type { ApplyRequest, PrinterInfo, Release, SlotReport, UpdateOutcome, UpdatePhase, UpdateSettings, UpdateStatus } from '../shared/ipc.ts';
import type { Logger } from '../shared/log.ts';
import { downloadBundle, fetchReason } from './download.ts';
import { INDEX_FORMAT, isDowngrade, isVersion, newestFor, parseIndex } from '../shared/update-index.ts';
import type { Installer } from './installer.ts';
import type { StateFile } from './state.ts';

export interface ManagerDeps {
  current: { version: string; compatible: string };
  installer: Installer;
  state: StateFile;
  /** Printers as the printer service reports them; throws when it cannot answer. */
  printers: () => Promise<PrinterInfo[]>;
  reboot: () => Promise<void>;
  /** The index of a built-in channel; undefined when this installation has no update server. */
  channelUrl: (channel: 'stable' | 'beta') => string | undefined;
  /** The kernel's boot id (/proc/sys/kernel/random/boot_id). */
  bootId: string;
  /** Where bundles are downloaded (the data partition). */
  dir: string;
  log: Logger;
  fetchImpl?: typeof fetch;
  idlePollMs?: number;
  onChange?: (s: UpdateStatus) => void;
}

const BUSY_STATES = new Set(['printing', 'paused']);
const mb = (n: number) => (n / 1e6).toFixed(0);

export class UpdateManager {
  private phase: UpdatePhase = 'idle';
  private checking?: Promise<UpdateStatus>;
  private available: Release | null = null;
  private lastCheck: string | null = null;
  private progress?: UpdateStatus['progress'];
  private waitingFor?: string[];
  private error?: UpdateStatus['error'];
  private slots?: SlotReport;
  private abort?: AbortController;
  /** Set once the engine starts writing: from then on the operation cannot be cancelled. */
  private committed = false;

  constructor(private readonly d: ManagerDeps) { this.restore(); }

  /** True while anything runs or waits (a check, a download, a wait for the printers, an install, a restart). */
  busy(): boolean { return this.phase !== 'idle' || this.checking !== undefined; }

  status(): UpdateStatus {
    const s = this.d.state.get();
    return {
      phase: this.phase, current: this.d.current, available: this.available, lastCheck: this.lastCheck,
      ...(this.progress ? { progress: this.progress } : {}), ...(this.waitingFor ? { waitingFor: this.waitingFor } : {}),
      ...(this.error ? { error: this.error } : {}), ...(s.last ? { last: s.last } : {}), ...(s.pending ? { pending: s.pending } : {}),
      ...(this.slots ? { slots: this.withVersions(this.slots) } : {}), settings: s.settings,
    };
  }

  /**
   * At start-up: remembers the version running in the booted slot, and after a reboot records whether
   * the switch the last install asked for happened.
   */
  async reconcile(): Promise<void> {
    this.slots = await this.d.installer.slots().catch((e: unknown) => { this.d.log.warn('slot status unavailable', { error: String(e) }); return undefined; });
    if (this.slots?.booted) this.remember(this.slots.booted, this.d.current.version);
    const { pending } = this.d.state.get();
    if (!pending || pending.bootId === this.d.bootId) return;
    const ok = pending.to === this.d.current.version;
    const at = new Date().toISOString();
    const last: UpdateOutcome = !ok && pending.written === false
      ? { outcome: 'interrupted', from: pending.from, to: pending.to, at, message: `Installing ${pending.to} was cut off (the power or the system went down while it was written); ${this.d.current.version} runs as before. Apply the update again.` }
      : !ok
      ? { outcome: 'rolled_back', from: pending.from, to: pending.to, at, message: `Version ${pending.to} did not start correctly; PrintBox went back to ${this.d.current.version}` }
      : pending.kind === 'rollback'
        ? { outcome: 'reverted', from: pending.from, to: pending.to, at, message: `Went back from ${pending.from} to ${pending.to} as asked` }
        : { outcome: 'installed', from: pending.from, to: pending.to, at, message: `Updated from ${pending.from} to ${pending.to}` };
    this.d.state.update((s) => ({ settings: s.settings, last, ...(s.versions ? { versions: s.versions } : {}), ...(s.check ? { check: s.check } : {}) }));
    (ok ? this.d.log.info : this.d.log.error)(last.message, { slot: pending.slot });
    this.emit();
  }

  updateSettings(settings: UpdateSettings): UpdateStatus {
    this.available = null; // offered by another channel, perhaps
    this.d.state.update((s) => ({ ...s, settings, ...(s.check ? { check: { ...s.check, available: null } } : {}) }));
    this.emit();
    return this.status();
  }

  /**
   * Reads the channel's index; the newest release for this device becomes `available`. A check asked for
   * while one runs (the background check, say) gets that one's answer instead of update_busy.
   */
  check(): Promise<UpdateStatus> {
    if (this.checking) return this.checking;
    this.idleOrBusy();
    this.checking = this.readIndex().finally(() => { this.checking = undefined; });
    return this.checking;
  }

  /** Resolves once no check runs: what apply and rollback wait for first, so they are not refused by one. */
  async afterCheck(): Promise<void> {
    await this.checking?.catch(() => {});
  }

  private async readIndex(): Promise<UpdateStatus> {
    this.phase = 'checking';
    this.emit();
    try {
      const url = this.indexUrl();
      let res: Response;
      try {
        res = await (this.d.fetchImpl ?? fetch)(url, { headers: { Accept: 'application/json' }, signal: AbortSignal.timeout(30_000) });
      } catch (e) {
        throw new AppError('update_server_unreachable', 502, `The update server at ${url} did not answer (${fetchReason(e)})`);
      }
      if (!res.ok) throw new AppError('update_server_unreachable', 502, `The update server answered ${res.status} for ${url}`);
      let raw: unknown;
      try { raw = await res.json(); } catch { throw new AppError('update_index_invalid', 502, `The update index at ${url} is not JSON`); }
      const index = parseIndex(raw, url);
      this.available = newestFor(index, this.d.current.compatible, this.d.current.version) ?? null;
      this.lastCheck = new Date().toISOString();
      this.setError(undefined);
      this.d.state.update((s) => ({ ...s, check: { at: this.lastCheck!, available: this.available } }));
    } catch (e) { this.fail(e); throw e; } finally { this.phase = 'idle'; this.emit(); }
    return this.status();
  }

  /** Starts an update in the background and answers at once; status() follows it. */
  apply(req: ApplyRequest): UpdateStatus {
    this.idleOrBusy();
    const given = [req.version, req.file, req.url].filter((x) => x !== undefined).length;
    if (given > 1) throw badRequest('invalid_update_source', 'give one of version, file or url');
    let release: Release | undefined;
    if (req.file !== undefined) {
      if (typeof req.file !== 'string' || !path.isAbsolute(req.file) || !fs.existsSync(req.file)) throw badRequest('update_file_missing', `No bundle at ${String(req.file)} (give an absolute path on the device)`);
    } else if (req.url !== undefined) {
      try { if (!/^https?:$/.test(new URL(req.url).protocol)) throw new Error(); } catch { throw badRequest('invalid_update_source', 'url must be an http or https URL of a bundle'); }
    } else {
      release = req.version === undefined ? this.available ?? undefined : this.available?.version === req.version ? this.available : undefined;
      if (!release) {
        throw req.version === undefined
          ? conflict('update_none', `No update is offered for ${this.d.current.version}: check for updates first`)
          : new AppError('update_not_found', 404, `Version ${req.version} is not offered by the last check`);
      }
    }
    this.abort = new AbortController();
    this.committed = false;
    this.setError(undefined);
    this.phase = req.file ? 'waiting' : 'downloading';
    this.run(req, release, this.abort.signal).catch((e: unknown) => this.fail(e)).finally(() => {
      if (this.phase !== 'rebooting') this.phase = 'idle';
      this.progress = undefined; this.waitingFor = undefined; this.abort = undefined;
      this.emit();
    });
    this.emit();
    return this.status();
  }

  /** Stops a download or a wait; once the engine writes, the update can no longer be stopped. */
  cancel(): UpdateStatus {
    if (!this.abort) throw conflict('update_not_running', 'No update is running');
    if (this.committed) throw conflict('update_committed', 'The update is already being written into the other slot; it takes effect at the next restart');
    this.abort.abort();
    return this.status();
  }

  /** Boots the other slot again (the version that ran before the last update), once the printers are idle. */
  async rollback(): Promise<UpdateStatus> {
    this.idleOrBusy();
    if (this.d.state.get().pending) throw conflict('rollback_unavailable', 'An installed update waits for the next restart; there is nothing to go back to yet');
    const slots = this.withVersions(await this.d.installer.slots());
    const other = slots.slots.find((s) => !s.booted && s.bootname);
    if (!other || other.health === 'bad' || !other.version) throw conflict('rollback_unavailable', 'The other slot holds no version that is known to start');
    this.phase = 'waiting';
    (async () => {
      await this.d.installer.activateOther();
      this.committed = true;
      this.d.state.update((s) => ({ ...s, pending: { kind: 'rollback', from: this.d.current.version, to: other.version!, slot: other.bootname, at: new Date().toISOString(), bootId: this.d.bootId } }));
      await this.restartWhenIdle(`Going back to ${other.version}`);
    })().catch((e: unknown) => this.fail(e)).finally(() => { if (this.phase !== 'rebooting') this.phase = 'idle'; this.emit(); });
    this.emit();
    return this.status();
  }

  private async run(req: ApplyRequest, release: Release | undefined, signal: AbortSignal): Promise<void> {
    let bundle = req.file;
    let downloaded = false;
    if (!bundle) {
      const url = release?.url ?? req.url!;
      const name = release ? `printbox-${release.version}.raucb` : 'direct.raucb';
      this.phase = 'downloading';
      this.progress = { percent: 0, message: 'Downloading' };
      this.emit();
      bundle = await downloadBundle({
        url, dest: path.join(this.d.dir, name), signal, ...(this.d.fetchImpl ? { fetchImpl: this.d.fetchImpl } : {}),
        ...(release ? { size: release.size, sha256: release.sha256 } : {}),
        onProgress: (n, total) => { this.progress = { percent: total ? Math.floor((n * 100) / total) : 0, message: `Downloading: ${mb(n)} of ${mb(total)} MB` }; this.emit(); },
      });
      downloaded = true;
    }
    await this.whenIdle('Downloaded; waiting for the print to finish before installing', signal);
    this.phase = 'installing';
    this.progress = { percent: 0, message: 'Checking the bundle' };
    this.emit();
    const info = await this.d.installer.inspect(bundle);
    if (info.compatible !== this.d.current.compatible) {
      throw new AppError('update_incompatible', 422, `This bundle is for "${info.compatible}", this device is "${this.d.current.compatible}"; nothing was changed`);
    }
    if (!isVersion(info.version)) throw new AppError('update_bundle_invalid', 422, `The bundle's version "${info.version}" is not a semantic version; nothing was changed`);
    if (!req.allowDowngrade && (isDowngrade(this.d.current.version, info.version) || info.version === this.d.current.version)) {
      throw new AppError('update_downgrade', 409, `The bundle holds version ${info.version} and this device runs ${this.d.current.version}; allow a downgrade to install it. Nothing was changed`);
    }
    if (signal.aborted) throw new AppError('update_cancelled', 409, 'The update was cancelled; nothing was changed');
    this.committed = true;
    // Recorded before the engine writes: a power cut from here on is told apart at the next boot, both while
    // the slot is written (the old version runs) and after the engine switched but before this line below
    // (the new version runs, and gets its trial).
    const pending = { kind: 'update' as const, from: this.d.current.version, to: info.version, slot: 'other', at: new Date().toISOString(), bootId: this.d.bootId };
    this.d.state.update((s) => ({ ...s, pending: { ...pending, written: false } }));
    try {
      await this.d.installer.install(bundle, (percent, message) => { this.progress = { percent, message }; this.emit(); });
    } catch (e) {
      this.d.state.update((s) => { const { pending: _, ...rest } = s; return rest; });
      throw e;
    }
    this.slots = await this.d.installer.slots().catch(() => this.slots);
    const target = this.slots?.slots.find((s) => s.primary && !s.booted)?.bootname ?? 'other';
    this.d.state.update((s) => ({
      ...s, pending: { ...pending, slot: target, written: true },
      ...(target !== 'other' ? { versions: { ...s.versions, [target]: info.version } } : {}),
    }));
    if (downloaded) await fs.promises.rm(bundle, { force: true }); // the slot holds it now; the data partition needs the room
    this.d.log.info('update installed', { version: info.version, slot: target });
    await this.restartWhenIdle(`Installed ${info.version}`);
  }

  /**
   * Each slot's version as RAUC reports it, else as this service saw it run or installed it there: RAUC
   * reports none for the slot the card was flashed with, which is where a first rollback goes back to.
   */
  private withVersions(report: SlotReport): SlotReport {
    const known = this.d.state.get().versions ?? {};
    return { ...report, slots: report.slots.map((s) => (s.version || !known[s.bootname] ? s : { ...s, version: known[s.bootname] })) };
  }

  private remember(bootname: string, version: string): void {
    if (this.d.state.get().versions?.[bootname] === version) return; // no write to the card on every start
    this.d.state.update((s) => ({ ...s, versions: { ...s.versions, [bootname]: version } }));
  }

  private async restartWhenIdle(what: string): Promise<void> {
    // a cancel cannot undo the switch: from here the restart only waits for the printers
    await this.whenIdle(`${what}; waiting for the print to finish before restarting`, new AbortController().signal);
    this.phase = 'rebooting';
    this.progress = { percent: 100, message: `${what}; restarting` };
    this.emit();
    await this.d.reboot();
  }

  /** Returns once no printer prints or waits paused; a printer service that cannot answer counts as busy. */
  private async whenIdle(message: string, signal: AbortSignal): Promise<void> {
    for (;;) {
      if (signal.aborted) throw new AppError('update_cancelled', 409, 'The update was cancelled; nothing was changed');
      let busy: string[];
      try { busy = (await this.d.printers()).filter((p) => BUSY_STATES.has(p.state)).map((p) => p.name || p.id); } catch { busy = ['the printer service (not answering)']; }
      if (!busy.length) { this.waitingFor = undefined; return; }
      if (this.phase !== 'waiting' || this.waitingFor?.join() !== busy.join()) {
        this.phase = 'waiting'; this.waitingFor = busy; this.progress = { percent: this.progress?.percent ?? 0, message }; this.emit();
      }
      await sleep(this.d.idlePollMs ?? 10_000, undefined, { signal }).catch(() => undefined);
    }
  }

  private indexUrl(): string {
    const { settings } = this.d.state.get();
    const url = settings.channel === 'custom' ? settings.url : this.d.channelUrl(settings.channel);
    if (!url) throw conflict('update_server_unset', 'This installation has no update server (PRINTBOX_UPDATE_SERVER); choose a custom channel with the URL of an index');
    return url;
  }

  private idleOrBusy(): void {
    if (this.phase !== 'idle') throw conflict('update_busy', `An update is already ${this.phase}`);
  }

  private fail(e: unknown): void {
    const err = e instanceof AppError ? e : new AppError('update_failed', 500, `The update failed: ${(e as Error)?.message ?? String(e)}`);
    this.setError({ code: err.code, message: err.message, at: new Date().toISOString() });
    this.d.log.error('update failed', { code: err.code, message: err.message });
  }

  private setError(error: UpdateStatus['error']): void {
    this.error = error;
    if (JSON.stringify(this.d.state.get().error) === JSON.stringify(error)) return; // no write to the card for nothing
    this.d.state.update((s) => { const { error: _, ...rest } = s; return error ? { ...rest, error } : rest; });
  }

  /** What this service knew when it last exited: a saved release is offered again only while it is newer than what runs. */
  private restore(): void {
    const { check, error } = this.d.state.get();
    this.lastCheck = check?.at ?? null;
    this.error = error;
    if (!check?.available) return;
    // read back as the index gave it: an index may leave notes and date out, which parse as ''
    const { notes, released, ...release } = check.available;
    try {
      const index = parseIndex({ format: INDEX_FORMAT, channel: 'saved', releases: [{ ...release, ...(notes ? { notes } : {}), ...(released ? { released } : {}) }] }, release.url);
      this.available = newestFor(index, this.d.current.compatible, this.d.current.version) ?? null;
    } catch { this.available = null; }
  }

  private emit(): void { this.d.onChange?.(this.status()); }
}
