/**
 * TLS helpers for tests: the device certificate from a data dir, so clients verify the real chain
 * (pinned CA = the self-signed cert) instead of turning verification off.
 */
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';

export const certFile = (dataDir: string) => path.join(dataDir, 'tls', 'cert.pem');
export const readCert = (dataDir: string) => fs.readFileSync(certFile(dataDir), 'utf8');

/** Opens a TLS connection with the given options; resolves with the negotiated protocol or rejects. */
export function handshake(opts: tls.ConnectionOptions): Promise<{ protocol: string | null; cert: tls.PeerCertificate }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(opts, () => {
      const out = { protocol: socket.getProtocol(), cert: socket.getPeerCertificate() };
      socket.end();
      resolve(out);
    });
    socket.on('error', reject);
    socket.setTimeout(5000, () => { socket.destroy(); reject(new Error('handshake timeout')); });
  });
}
