/**
 * The device's TLS certificate (issue 2): self-signed, generated on first start if absent, with the
 * device's names and addresses as SANs so browsers show one stable exception. Its SHA-256
 * fingerprint is logged and shown in the UI so a user can compare it before trusting it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../shared/log.ts';

export interface TlsMaterial {
  key: string;
  cert: string;
  /** "AB:CD:…" as browsers display it. */
  fingerprint256: string;
  certFile: string;
  validTo: string;
  sans: string[];
}

export interface EnsureCertDeps {
  dir: string;
  hostname: string;
  dns: string[];
  ips: string[];
  log: Logger;
}

export async function ensureCert(deps: EnsureCertDeps): Promise<TlsMaterial> {
  const keyFile = path.join(deps.dir, 'key.pem');
  const certFile = path.join(deps.dir, 'cert.pem');
  if (!(fs.existsSync(keyFile) && fs.existsSync(certFile))) {
    fs.mkdirSync(deps.dir, { recursive: true, mode: 0o700 });
    const now = new Date();
    // only the first start (or a renewal) makes a certificate: selfsigned and its crypto code are not kept resident
    const { generate } = await import('selfsigned');
    const pems = await generate([{ name: 'commonName', value: deps.hostname }, { name: 'organizationName', value: 'PrintBox' }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      notBeforeDate: new Date(now.getTime() - 24 * 3600_000), // tolerate a Pi whose clock is a bit behind before NTP
      notAfterDate: new Date(now.getTime() + 10 * 365 * 24 * 3600_000),
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [...deps.dns.map((value) => ({ type: 2 as const, value })), ...deps.ips.map((ip) => ({ type: 7 as const, ip }))] },
      ],
    });
    // key first with 0600, then the cert: a crash in between leaves no cert, so the next start regenerates both
    fs.writeFileSync(keyFile, pems.private, { mode: 0o600 });
    fs.writeFileSync(certFile, pems.cert, { mode: 0o644 });
    deps.log.info('generated a self-signed TLS certificate', { file: certFile });
  }
  const key = fs.readFileSync(keyFile, 'utf8');
  const cert = fs.readFileSync(certFile, 'utf8');
  const x509 = new crypto.X509Certificate(cert);
  const sans = (x509.subjectAltName ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  deps.log.info('TLS certificate', { sha256: x509.fingerprint256, valid_to: x509.validTo });
  return { key, cert, fingerprint256: x509.fingerprint256, certFile, validTo: x509.validTo, sans };
}
