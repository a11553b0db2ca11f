/**
 * The link state on disk, shared by printbox-web, printbox-firstboot and the `printbox` CLI (each
 * reads it fresh, so a link made by one is seen by the others without IPC). Layout in the data dir:
 *   cloud/link.json      0600  {state, owner?, verifier?, cloudUrl?, changedAt}
 *   cloud/device-token   0600  the bearer token the cloud issued (never logged, never sent to the UI)
 *   cloud/firstboot.json 0644  result of the last first-boot run (shown at GET /api/cloud)
 *   firstboot.done             idempotency marker of printbox-firstboot
 * Files are created owned by the data dir's owner, so root-run tools (firstboot, CLI) leave them
 * readable for the unprivileged web service.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.ts';
import { writeFileAtomic } from './atomic.ts';
import type { Owner } from '../cloud-client.ts';

export type LinkStateName = 'unlinked' | 'linked' | 'offline';

export interface LinkRecord {
  state: LinkStateName;
  owner?: Owner;
  /** argon2id hash of the owner's cloud password, cached at the last successful online check. */
  verifier?: string;
  cloudUrl?: string;
  changedAt: string;
}

export type FirstbootResult = 'pending' | 'linked' | 'offline' | 'applied' | 'missing' | 'error';
export interface FirstbootRecord { result: FirstbootResult; error?: string; warnings?: string[]; at: string }

export class LinkStore {
  readonly dir: string;
  private readonly owner: { uid: number; gid: number } | undefined;

  constructor(readonly dataDir: string) {
    this.dir = path.join(dataDir, 'cloud');
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const st = fs.statSync(dataDir);
    this.owner = process.getuid?.() === 0 ? { uid: st.uid, gid: st.gid } : undefined;
    if (this.owner) try { fs.chownSync(this.dir, this.owner.uid, this.owner.gid); } catch { /* best effort */ }
  }

  private write(name: string, data: string, mode: number): void {
    writeFileAtomic(path.join(this.dir, name), data, { mode, ...this.owner });
  }

  /** Absent → undefined. Unreadable (permissions) → an error, never a silent "unlinked". */
  private readText(name: string): string | undefined {
    try { return fs.readFileSync(path.join(this.dir, name), 'utf8'); } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      throw new AppError('link_state_unreadable', 500, `Cannot read the cloud link state in ${this.dir} (${code}); run as root or as the printbox user`);
    }
  }

  private readJson<T>(name: string): T | undefined {
    const text = this.readText(name);
    try { return text === undefined ? undefined : JSON.parse(text) as T; } catch { return undefined; /* torn by hand-editing; atomic writes never tear */ }
  }

  read(): LinkRecord {
    const r = this.readJson<LinkRecord>('link.json');
    if (!r || !['unlinked', 'linked', 'offline'].includes(r.state)) return { state: 'unlinked', changedAt: new Date(0).toISOString() };
    // A linked record without its token is unusable (e.g. token file lost): report it as unlinked.
    if (r.state === 'linked' && !this.token()) return { state: 'unlinked', changedAt: r.changedAt };
    return r;
  }

  token(): string | undefined {
    return this.readText('device-token')?.trim() || undefined;
  }

  /** Token first, then the record: a crash in between leaves "unlinked + stray token", which read() treats as unlinked. */
  saveLinked(owner: Owner, token: string, cloudUrl: string, verifier?: string): void {
    this.write('device-token', token + '\n', 0o600);
    this.write('link.json', JSON.stringify({ state: 'linked', owner, verifier, cloudUrl, changedAt: new Date().toISOString() } satisfies LinkRecord), 0o600);
  }

  saveVerifier(verifier: string): void {
    const r = this.read();
    if (r.state !== 'linked') return;
    this.write('link.json', JSON.stringify({ ...r, verifier }), 0o600);
  }

  saveState(state: 'unlinked' | 'offline'): void {
    this.write('link.json', JSON.stringify({ state, changedAt: new Date().toISOString() } satisfies LinkRecord), 0o600);
    try { fs.unlinkSync(path.join(this.dir, 'device-token')); } catch { /* absent */ }
  }

  readFirstboot(): FirstbootRecord | undefined {
    return this.readJson<FirstbootRecord>('firstboot.json');
  }

  saveFirstboot(rec: Omit<FirstbootRecord, 'at'>): void {
    this.write('firstboot.json', JSON.stringify({ ...rec, at: new Date().toISOString() }), 0o644);
  }

  get markerPath(): string { return path.join(this.dataDir, 'firstboot.done'); }
  hasMarker(): boolean { return fs.existsSync(this.markerPath); }
  writeMarker(summary: string): void {
    writeFileAtomic(this.markerPath, `${new Date().toISOString()} ${summary}\n`, { mode: 0o644, ...this.owner });
  }
}
