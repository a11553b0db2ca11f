/**
 * Publishing releases on a static update server (docs/updates.md "Update server"): a channel directory
 * holds the bundles and an index.json listing each with its size and SHA-256, read from the files, and
 * its compatible string and version, read from the bundle's signed manifest by RAUC (`rauc info`).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { INDEX_FORMAT } from '../shared/update-index.ts';

const run = promisify(execFile);

export interface PublishOptions {
  channel: string;
  /** The channel directory: its *.raucb are listed. */
  dir: string;
  /** CA the manifests are checked against; without it they are read unverified (the device verifies). */
  keyring?: string;
  notes?: Record<string, string>;
}

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(fs.createReadStream(file), h);
  return h.digest('hex');
}

/** Writes `<dir>/index.json` (atomically) and returns it. */
export async function publishChannel(o: PublishOptions): Promise<unknown> {
  const releases = [];
  for (const name of fs.readdirSync(o.dir).filter((n) => n.endsWith('.raucb')).sort()) {
    const file = path.join(o.dir, name);
    const { stdout } = await run('rauc', ['info', '--output-format=json', ...(o.keyring ? [`--keyring=${o.keyring}`] : ['--no-verify']), file], { maxBuffer: 1024 * 1024 });
    const m = JSON.parse(stdout) as { compatible: string; version: string; build?: string | null };
    releases.push({
      version: m.version, compatible: m.compatible, url: name, size: fs.statSync(file).size, sha256: await sha256(file),
      notes: o.notes?.[m.version] ?? '', released: new Date(fs.statSync(file).mtimeMs).toISOString().slice(0, 10),
    });
  }
  const index = { format: INDEX_FORMAT, channel: o.channel, releases };
  const tmp = path.join(o.dir, '.index.json.tmp');
  fs.writeFileSync(tmp, JSON.stringify(index, null, 2) + '\n');
  fs.renameSync(tmp, path.join(o.dir, 'index.json'));
  return index;
}
