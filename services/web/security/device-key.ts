/**
 * The device key: 32 random bytes in <dataDir>/device.key, mode 0600, owned by the web service's
 * user. It encrypts TOTP secrets at rest (AES-256-GCM) so a copied printbox.db alone does not give
 * away anyone's second factor. Created on first use with O_EXCL so two processes cannot race to
 * write different keys.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../../shared/errors.ts';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function loadDeviceKey(dataDir: string, fileName = 'device.key'): Buffer {
  const file = path.join(dataDir, fileName);
  try {
    const fd = fs.openSync(file, 'wx', 0o600);
    try { fs.writeSync(fd, crypto.randomBytes(KEY_BYTES)); fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const st = fs.statSync(file);
  // A key readable by others is no secret; tighten rather than refuse so the device keeps working.
  if ((st.mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
  const key = fs.readFileSync(file);
  if (key.length !== KEY_BYTES) throw new AppError('device_key_invalid', 500, `${file} is not a ${KEY_BYTES}-byte key`);
  return key;
}

/** iv | tag | ciphertext. `aad` binds the ciphertext to its row (e.g. the username) so rows cannot be swapped. */
export function seal(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const iv = crypto.randomBytes(IV_BYTES);
  const c = crypto.createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), body]);
}

export function unseal(key: Buffer, sealed: Buffer, aad: string): Buffer {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new AppError('secret_corrupt', 500, 'Stored secret is corrupt');
  const d = crypto.createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES));
  d.setAAD(Buffer.from(aad, 'utf8'));
  d.setAuthTag(sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  try {
    return Buffer.concat([d.update(sealed.subarray(IV_BYTES + TAG_BYTES)), d.final()]);
  } catch {
    throw new AppError('secret_corrupt', 500, 'Stored secret cannot be decrypted with this device key');
  }
}
