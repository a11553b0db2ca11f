/**
 * `npm run updates:dev` — the reference update server: static files, as any web server or CDN would serve
 * them. Each subdirectory of UPDATES_DIR (default dist/updates) is a channel; its index.json is written
 * from the bundles in it at start. Env (this process only): UPDATES_DIR, UPDATES_PORT (8788),
 * UPDATES_BIND (127.0.0.1), UPDATES_KEYRING (check each bundle's signature while listing it).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { publishChannel } from './publish.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const env = process.env;
const dir = path.resolve(env.UPDATES_DIR ?? path.join(ROOT, 'dist/updates'));
const port = Number(env.UPDATES_PORT ?? 8788);
const bind = env.UPDATES_BIND ?? '127.0.0.1';

async function main(): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const channels = fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  for (const channel of channels) {
    const index = await publishChannel({ channel, dir: path.join(dir, channel), ...(env.UPDATES_KEYRING ? { keyring: env.UPDATES_KEYRING } : {}) }) as { releases: unknown[] };
    process.stdout.write(`channel ${channel}: ${index.releases.length} release(s)\n`);
  }
  const app = express();
  app.use(express.static(dir, { index: false, fallthrough: true }));
  app.listen(port, bind, () => {
    process.stdout.write(`PrintBox reference update server on http://${bind}:${port} (${dir})\n  point a device at it: PRINTBOX_UPDATE_SERVER=http://${bind}:${port}\n`);
  });
}

main().catch((e) => { process.stderr.write(`update server: ${(e as Error).message}\n`); process.exit(1); });
