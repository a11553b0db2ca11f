/**
 * State of the reference cloud (development and tests only — the real cloud is another product).
 * In memory: accounts with scrypt password hashes, one-time link tokens, devices keyed by serial.
 * Secrets (device and link tokens) are kept only as SHA-256 digests and looked up by digest, so
 * no token is ever compared with `===` against a stored plaintext.
 */
import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import { AppError } from '../shared/errors.ts';

export interface Account { id: string; email: string; salt: Buffer; hash: Buffer }
export interface Device { serial: string; hostname: string; version: string; accountId: string; tokenDigest: string; linkedAt: string }
interface LinkToken { accountId: string; expiresAt: number; usedBy?: string }

const digest = (s: string) => crypto.createHash('sha256').update(s).digest('hex');
const scrypt = (password: string, salt: Buffer) => crypto.scryptSync(password, salt, 32);
export const normEmail = (e: string) => e.trim().toLowerCase();
const rejected = () => new AppError('unauthorized', 401, 'Wrong email or password');

export interface CloudStoreEvents { request: [path: string]; linked: [Device]; unlinked: [Device] }

export class CloudStore extends EventEmitter<CloudStoreEvents> {
  private readonly accounts = new Map<string, Account>();      // by normalised email
  private readonly linkTokens = new Map<string, LinkToken>();  // by digest
  private readonly devices = new Map<string, Device>();        // by serial
  private readonly byToken = new Map<string, string>();        // token digest → serial
  /** Test hook: delay between committing a link and answering it (power-cut tests kill the device meanwhile). */
  linkDelayMs = 0;
  /** Test hook: answer every request with 503 (a cloud that is up but failing). */
  failing = false;

  addAccount(email: string, password: string): Account {
    const key = normEmail(email);
    if (this.accounts.has(key)) throw new AppError('exists', 409, 'An account with this email exists');
    const salt = crypto.randomBytes(16);
    const acc: Account = { id: `acc_${crypto.randomBytes(6).toString('hex')}`, email: email.trim(), salt, hash: scrypt(password, salt) };
    this.accounts.set(key, acc);
    return acc;
  }

  authenticate(email: string, password: string): Account {
    const acc = this.accounts.get(normEmail(email));
    // Hash even for unknown accounts so timing does not reveal which emails exist.
    const hash = scrypt(password, acc?.salt ?? Buffer.alloc(16));
    if (!acc || !crypto.timingSafeEqual(hash, acc.hash)) throw rejected();
    return acc;
  }

  createLinkToken(accountId: string, ttlMs = 15 * 60_000): string {
    const token = `lt_${crypto.randomBytes(18).toString('base64url')}`;
    this.linkTokens.set(digest(token), { accountId, expiresAt: Date.now() + ttlMs });
    return token;
  }

  /**
   * Links a device. A link token is single-use, but the device that consumed it may present it again:
   * a device that lost power between our answer and saving its token must be able to finish linking.
   */
  link(creds: { email?: string; password?: string; link_token?: string }, dev: { serial: string; hostname: string; version: string }) {
    let account: Account | undefined;
    if (typeof creds.link_token === 'string') {
      const lt = this.linkTokens.get(digest(creds.link_token));
      if (!lt || lt.expiresAt < Date.now() || (lt.usedBy && lt.usedBy !== dev.serial)) {
        throw new AppError('unauthorized', 401, 'The link token is unknown, expired or already used');
      }
      lt.usedBy = dev.serial;
      account = [...this.accounts.values()].find((a) => a.id === lt.accountId);
    } else if (typeof creds.email === 'string' && typeof creds.password === 'string') {
      account = this.authenticate(creds.email, creds.password);
    } else {
      throw new AppError('bad_request', 400, 'Send email and password, or link_token');
    }
    if (!account) throw rejected();
    this.dropDevice(dev.serial);
    const token = `dt_${crypto.randomBytes(32).toString('base64url')}`;
    const device: Device = { ...dev, accountId: account.id, tokenDigest: digest(token), linkedAt: new Date().toISOString() };
    this.devices.set(dev.serial, device);
    this.byToken.set(device.tokenDigest, dev.serial);
    this.emit('linked', device);
    return { device_token: token, owner: { id: account.id, email: account.email } };
  }

  deviceByToken(token: string): { device: Device; account: Account } {
    const serial = this.byToken.get(digest(token));
    const device = serial ? this.devices.get(serial) : undefined;
    const account = device && [...this.accounts.values()].find((a) => a.id === device.accountId);
    if (!device || !account) throw new AppError('unauthorized', 401, 'Unknown or revoked device token');
    return { device, account };
  }

  /** The device's owner re-enters their password on the device (owner login). */
  verifyOwner(token: string, email: string, password: string): void {
    const { account } = this.deviceByToken(token);
    const acc = this.authenticate(email, password);
    if (acc.id !== account.id) throw rejected();
  }

  unlink(token: string): void {
    const { device } = this.deviceByToken(token);
    this.dropDevice(device.serial);
    this.emit('unlinked', device);
  }

  devicesOf(email: string): Device[] {
    const acc = this.accounts.get(normEmail(email));
    return acc ? [...this.devices.values()].filter((d) => d.accountId === acc.id) : [];
  }

  private dropDevice(serial: string): void {
    const old = this.devices.get(serial);
    if (!old) return;
    this.byToken.delete(old.tokenDigest);
    this.devices.delete(serial);
  }
}
