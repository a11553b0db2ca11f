/**
 * `npm run cloud:dev` — the reference cloud for development: listens on loopback, seeds one account
 * and prints its credentials plus a fresh link token. Env (this process only, not the appliance):
 * CLOUD_PORT (8787), CLOUD_BIND (127.0.0.1), CLOUD_DEV_EMAIL, CLOUD_DEV_PASSWORD.
 */
import { createLogger } from '../shared/log.ts';
import { CloudStore } from './store.ts';
import { createCloudServer } from './server.ts';

const env = process.env;
const port = Number(env.CLOUD_PORT ?? 8787);
const bind = env.CLOUD_BIND ?? '127.0.0.1';
const email = env.CLOUD_DEV_EMAIL ?? 'dev@printbox.test';
const password = env.CLOUD_DEV_PASSWORD ?? 'printbox-dev';

const log = createLogger({ scope: 'cloud' });
const store = new CloudStore();
const account = store.addAccount(email, password);
const server = createCloudServer({ store, log });
store.on('linked', (d) => log.info('device linked', { serial: d.serial, hostname: d.hostname }));
store.on('unlinked', (d) => log.info('device unlinked', { serial: d.serial }));

server.listen(port, bind, () => {
  const url = `http://${bind}:${port}`;
  process.stdout.write([
    `PrintBox reference cloud on ${url}`,
    `  dev account: ${email} / ${password}`,
    `  link token:  ${store.createLinkToken(account.id, 24 * 3600_000)} (valid 24 h)`,
    `  point a device at it: PRINTBOX_CLOUD_URL=${url}`,
    '',
  ].join('\n'));
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
