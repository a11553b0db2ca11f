/**
 * Starts the reference cloud (services/cloud) on a loopback port for a test: real HTTP or HTTPS with
 * a freshly generated self-signed certificate whose PEM the device side trusts as its extra CA
 * (PRINTBOX_CLOUD_CA). stop()/start() keep the same port and store, so tests can take the cloud
 * "down" and bring it back.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';
import { createLogger } from '../../services/shared/log.ts';
import { CloudStore } from '../../services/cloud/store.ts';
import { createCloudServer } from '../../services/cloud/server.ts';

export interface TestCloud {
  url: string;
  store: CloudStore;
  /** PEM of the server certificate when started with tls. */
  ca?: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  addAccount(email: string, password: string): void;
}

export async function startCloud(opts: { tls?: boolean } = {}): Promise<TestCloud> {
  const store = new CloudStore();
  const logs: string[] = [];
  const log = createLogger({ scope: 'test-cloud', write: (l) => logs.push(l) });
  let tls: { key: string; cert: string } | undefined;
  if (opts.tls) {
    const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
      keyType: 'ec', curve: 'P-256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] }],
    });
    tls = { key: pems.private, cert: pems.cert };
  }
  let server: http.Server | undefined;
  let port = 0;
  const listen = async () => {
    server = createCloudServer({ store, log, ...(tls ? { tls } : {}) });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(port, '127.0.0.1', () => resolve());
    });
    port = (server.address() as AddressInfo).port;
  };
  await listen();
  const cloud: TestCloud = {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    store,
    ...(tls ? { ca: tls.cert } : {}),
    stop: () => new Promise((resolve) => {
      if (!server) return resolve();
      server.closeAllConnections();
      server.close(() => resolve());
      server = undefined;
    }),
    start: listen,
    addAccount: (email, password) => { store.addAccount(email, password); },
  };
  return cloud;
}
