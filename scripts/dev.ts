/**
 * `npm start` (after scripts/setup.sh base): the appliance on this machine. Starts the printer
 * service with a virtual printer, the PAM helper (only when run as root — it must be), the update
 * service (checks and downloads only; point PRINTBOX_UPDATE_SERVER at `npm run updates:dev`), and the web
 * on 8080/8443, all with state under ./.printbox and no cloud URL (offline mode). Every variable
 * can be overridden from the environment. Ctrl-C (or any child dying) stops everything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LinkStore } from '../services/shared/link/store.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// The sockets follow the data dir, so two `npm start`s with different PRINTBOX_DATA_DIRs do not share them.
const data = process.env.PRINTBOX_DATA_DIR || path.join(ROOT, '.printbox');
const defaults: Record<string, string> = {
  PRINTBOX_DATA_DIR: data,
  PRINTBOX_RUN_DIR: path.join(data, 'run'),
  PRINTBOX_HTTP_PORT: '8080',
  PRINTBOX_HTTPS_PORT: '8443',
  PRINTBOX_VIRTUAL_PRINTERS: '1',
  // No camera units here: a camera is an ustreamer someone started on <data>/camera/<id>.sock.
  PRINTBOX_CAMERA_DIR: path.join(data, 'camera'),
};
const env: NodeJS.ProcessEnv = { ...defaults, ...process.env };
fs.mkdirSync(env.PRINTBOX_RUN_DIR!, { recursive: true });
// The embedded default is offline mode (README); only a fresh data dir is set, so a link made
// while developing (or an explicit `printbox unlink`) is kept across restarts.
if (!env.PRINTBOX_CLOUD_URL && !fs.existsSync(path.join(env.PRINTBOX_DATA_DIR!, 'cloud', 'link.json'))) {
  new LinkStore(env.PRINTBOX_DATA_DIR!).saveState('offline');
}

const services: Array<{ name: string; script: string }> = [];
if (fs.existsSync(path.join(ROOT, 'services/printer/main.ts'))) services.push({ name: 'printer', script: 'services/printer/main.ts' });
if (process.getuid?.() === 0) services.push({ name: 'auth', script: 'services/auth/main.ts' });
else console.warn('[dev] not root: the PAM helper is not started, so system-account login is unavailable; a browser on this machine is signed in as "local".');
// updates check and download only here (PRINTBOX_UPDATE_ENGINE defaults to none): nothing is installed on this machine
services.push({ name: 'update', script: 'services/updater/main.ts' });
services.push({ name: 'web', script: 'services/web/main.ts' });

const children = new Map<string, ChildProcess>();
let stopping = false;

function prefix(name: string, stream: NodeJS.ReadableStream, out: NodeJS.WriteStream): void {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) out.write(`${name.padEnd(7)}| ${l}\n`);
  });
}

for (const s of services) {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, s.script)], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.set(s.name, child);
  prefix(s.name, child.stdout!, process.stdout);
  prefix(s.name, child.stderr!, process.stderr);
  child.on('exit', (code, signal) => {
    children.delete(s.name);
    if (!stopping) { console.error(`[dev] ${s.name} exited (${signal ?? code}); stopping the rest`); void stop(1); }
    else if (children.size === 0) process.exit(process.exitCode ?? 0);
  });
}
console.log(`[dev] PrintBox on https://localhost:${env.PRINTBOX_HTTPS_PORT} (http://localhost:${env.PRINTBOX_HTTP_PORT} redirects); data in ${env.PRINTBOX_DATA_DIR}; Ctrl-C stops`);

async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  process.exitCode = code;
  for (const c of children.values()) c.kill('SIGTERM');
  setTimeout(() => { for (const c of children.values()) c.kill('SIGKILL'); process.exit(code); }, 5000).unref();
  if (children.size === 0) process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
