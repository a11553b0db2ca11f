/**
 * TOTP second factor, RFC 6238 via the otpauth library (not hand-rolled). Secrets are
 * sealed with the device key; a code is accepted only if its time step is newer than the last one
 * accepted for that account (the UPDATE … WHERE last_step < ? makes the check atomic, so two
 * concurrent requests with the same code cannot both win). 10 single-use recovery codes are stored
 * as SHA-256 hashes (80 random bits each: hashing speed does not matter at that entropy).
 */
import crypto from 'node:crypto';
import * as OTPAuth from 'otpauth';
import type { Db } from '../../shared/db.ts';
import { AppError, badRequest, conflict } from '../../shared/errors.ts';
import { seal, unseal } from './device-key.ts';
import { getSetting, setSetting } from './schema.ts';

export const RECOVERY_CODES = 10;
const PERIOD = 30;
const MAX_FAILS = 5;
const FAIL_WINDOW_MS = 5 * 60_000;

export interface TotpStatus { enabled: boolean; pending: boolean; recovery_codes_left: number; enforced: boolean }
export interface Enrollment { secret: string; uri: string; qr_svg: string }

export interface TotpService {
  status(username: string): Promise<TotpStatus>;
  isEnabled(username: string): Promise<boolean>;
  beginEnroll(username: string): Promise<Enrollment>;
  /** Confirms a pending enrollment with a current code; returns the recovery codes (shown once). */
  confirm(username: string, code: unknown): Promise<string[]>;
  /** Checks a TOTP or recovery code; throws 401 totp_invalid (or 429 when too many failures). */
  verify(username: string, code: unknown): Promise<{ recovery: boolean }>;
  regenerateRecoveryCodes(username: string, code: unknown): Promise<string[]>;
  disable(username: string, code: unknown): Promise<void>;
  /** Admin reset for a user who lost their device; no code needed. */
  reset(username: string): Promise<void>;
  enforced(): Promise<boolean>;
  setEnforced(on: boolean): Promise<void>;
}

const sha256 = (s: string) => crypto.createHash('sha256').update(s, 'utf8').digest();
const normaliseRecovery = (s: string) => s.toUpperCase().replace(/[^A-Z2-7]/g, '');

function newRecoveryCode(): string {
  const b32 = new OTPAuth.Secret({ size: 10 }).base32; // 80 bits → 16 base32 chars
  return b32.match(/.{4}/g)!.join('-');
}

/** onPermissionsChanged: enforcement on, or a reset under it, takes permissions away from signed-in accounts. */
export function createTotpService(deps: { db: Db; deviceKey: Buffer; issuer?: string; now?: () => Date; onPermissionsChanged?: () => void }): TotpService {
  const now = deps.now ?? (() => new Date());
  const issuer = deps.issuer ?? 'PrintBox';
  const fails = new Map<string, { count: number; since: number }>();

  const row = (u: string) => deps.db.get<{ secret_enc: Buffer; confirmed_at: string | null; last_step: number }>(
    'SELECT secret_enc, confirmed_at, last_step FROM totp WHERE username = ?', [u]);
  const totpFor = (u: string, secretEnc: Buffer) => new OTPAuth.TOTP({
    issuer, label: u, period: PERIOD, digits: 6, algorithm: 'SHA1',
    secret: OTPAuth.Secret.fromBase32(unseal(deps.deviceKey, secretEnc, `totp:${u}`).toString('utf8')),
  });

  function throttle(u: string): void {
    const f = fails.get(u);
    if (f && f.count >= MAX_FAILS && now().getTime() - f.since < FAIL_WINDOW_MS) {
      throw new AppError('totp_throttled', 429, 'Too many wrong codes; try again in a few minutes', { retry_after_s: Math.ceil((FAIL_WINDOW_MS - (now().getTime() - f.since)) / 1000) });
    }
  }
  function failed(u: string): AppError {
    const f = fails.get(u);
    const t = now().getTime();
    if (!f || t - f.since >= FAIL_WINDOW_MS) fails.set(u, { count: 1, since: t }); else f.count++;
    if (fails.size > 10_000) fails.delete(fails.keys().next().value!); // bound memory under a flood
    return new AppError('totp_invalid', 401, 'Wrong or already used code');
  }

  /** Accepts a 6-digit code whose step is newer than the last accepted one; false otherwise. */
  async function acceptTotp(u: string, secretEnc: Buffer, code: string): Promise<boolean> {
    if (!/^\d{6}$/.test(code)) return false;
    const t = now().getTime();
    const delta = totpFor(u, secretEnc).validate({ token: code, timestamp: t, window: 1 });
    if (delta === null) return false;
    const step = Math.floor(t / 1000 / PERIOD) + delta;
    const res = await deps.db.run('UPDATE totp SET last_step = ? WHERE username = ? AND last_step < ?', [step, u, step]);
    return res.changes === 1;
  }

  async function acceptRecovery(u: string, code: string): Promise<boolean> {
    const norm = normaliseRecovery(code);
    if (norm.length !== 16) return false;
    const res = await deps.db.run('UPDATE recovery_codes SET used_at = ? WHERE username = ? AND hash = ? AND used_at IS NULL',
      [now().toISOString(), u, sha256(norm)]);
    return res.changes === 1;
  }

  async function replaceRecoveryCodes(u: string): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODES }, newRecoveryCode);
    await deps.db.tx(async () => {
      await deps.db.run('DELETE FROM recovery_codes WHERE username = ?', [u]);
      for (const c of codes) await deps.db.run('INSERT INTO recovery_codes(username, hash) VALUES (?, ?)', [u, sha256(normaliseRecovery(c))]);
    });
    return codes;
  }

  const code = (c: unknown) => {
    if (typeof c !== 'string' || c.length > 64) throw badRequest('invalid_code', 'code must be a string');
    return c.trim();
  };

  const svc: TotpService = {
    async status(u) {
      const r = await row(u);
      const left = await deps.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM recovery_codes WHERE username = ? AND used_at IS NULL', [u]);
      return { enabled: !!r?.confirmed_at, pending: !!r && !r.confirmed_at, recovery_codes_left: r?.confirmed_at ? left!.n : 0, enforced: await svc.enforced() };
    },
    async isEnabled(u) { return !!(await row(u))?.confirmed_at; },
    async beginEnroll(u) {
      if (await svc.isEnabled(u)) throw conflict('totp_enabled', 'Two-factor authentication is already on; disable it first');
      const secret = new OTPAuth.Secret({ size: 20 }).base32;
      const enc = seal(deps.deviceKey, Buffer.from(secret, 'utf8'), `totp:${u}`);
      await deps.db.run(`INSERT INTO totp(username, secret_enc, confirmed_at, last_step, created_at) VALUES (?,?,NULL,0,?)
        ON CONFLICT(username) DO UPDATE SET secret_enc = excluded.secret_enc, confirmed_at = NULL, last_step = 0, created_at = excluded.created_at`,
      [u, enc, now().toISOString()]);
      const uri = totpFor(u, enc).toString();
      // only TOTP enrolment draws a QR code: loaded then, not at start-up (idle RSS)
      const { default: QRCode } = await import('qrcode');
      const svg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
      return { secret, uri, qr_svg: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}` };
    },
    async confirm(u, c) {
      const given = code(c);
      throttle(u);
      const r = await row(u);
      if (!r || r.confirmed_at) throw conflict('no_pending_enrollment', 'Start enrollment first');
      if (!(await acceptTotp(u, r.secret_enc, given))) throw failed(u);
      await deps.db.run('UPDATE totp SET confirmed_at = ? WHERE username = ?', [now().toISOString(), u]);
      fails.delete(u);
      return replaceRecoveryCodes(u);
    },
    async verify(u, c) {
      const given = code(c);
      throttle(u);
      const r = await row(u);
      if (!r?.confirmed_at) throw failed(u);
      if (await acceptTotp(u, r.secret_enc, given)) { fails.delete(u); return { recovery: false }; }
      if (await acceptRecovery(u, given)) { fails.delete(u); return { recovery: true }; }
      throw failed(u);
    },
    async regenerateRecoveryCodes(u, c) {
      await svc.verify(u, c);
      return replaceRecoveryCodes(u);
    },
    async disable(u, c) {
      await svc.verify(u, c);
      await svc.reset(u);
    },
    async reset(u) {
      await deps.db.tx(async () => {
        await deps.db.run('DELETE FROM totp WHERE username = ?', [u]);
        await deps.db.run('DELETE FROM recovery_codes WHERE username = ?', [u]);
      });
      deps.onPermissionsChanged?.();
    },
    async enforced() { return (await getSetting(deps.db, 'enforce_2fa')) === 'yes'; },
    async setEnforced(on) { await setSetting(deps.db, 'enforce_2fa', on ? 'yes' : 'no'); deps.onPermissionsChanged?.(); },
  };
  return svc;
}
