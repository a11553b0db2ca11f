/**
 * The device's TLS certificate: self-signed, generated on first start if absent, with the
 * device's names and addresses as SANs so browsers show one stable exception. Its SHA-256
 * fingerprint is logged and shown in the UI so a user can compare it before trusting it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
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
    const pems = await generateInChild({ hostname: deps.hostname, dns: deps.dns, ips: deps.ips });
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

/**
 * Runs tls-generate in a child process with this process's own loader flags (tsx in development,
 * plain node for the compiled build), so the certificate code never stays resident in the web.
 */
function generateInChild(req: { hostname: string; dns: string[]; ips: string[] }): Promise<{ private: string; cert: string }> {
  const self = fileURLToPath(import.meta.url);
  const script = path.join(path.dirname(self), `tls-generate${path.extname(self)}`);
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, [...process.execArgv, script], { timeout: 120_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) { reject(new Error(`TLS certificate generation failed: ${stderr.trim() || err.message}`)); return; }
      try { resolve(JSON.parse(stdout) as { private: string; cert: string }); } catch (e) { reject(e as Error); }
    });
    child.stdin?.end(JSON.stringify(req));
  });
}
