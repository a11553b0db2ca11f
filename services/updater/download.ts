/**
 * Fetching a bundle onto the data partition. A bundle is hundreds of megabytes over a home Wi-Fi: a cut
 * connection or a restart resumes where it stopped (HTTP Range on `<dest>.part`), never starts over, and
 * the result is only renamed into place once its size and SHA-256 match the index, and a bundle already
 * in place that still matches is not fetched again. RAUC checks the signature afterwards; this check
 * only keeps a damaged download from reaching it.
 */
import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../shared/errors.ts';

export interface DownloadRequest {
  url: string;
  dest: string;
  /** From the index. A bundle without an index entry (a direct URL) is fetched whole each time: a
   *  leftover part could belong to another file, and RAUC's signature check is then the only check. */
  size?: number;
  sha256?: string;
  /** Bytes on disk so far (resumed bytes included) and the total; called at most every `progressMs`. */
  onProgress?: (received: number, total: number) => void;
  progressMs?: number;
  signal?: AbortSignal;
  /** Injected for private update servers with their own CA (undici dispatcher) and for tests. */
  fetchImpl?: typeof fetch;
}

/**
 * RAUC refuses a bundle file with looser permissions, and a chmod after the download is no way out: RAUC
 * chowns a bundle it keeps to root, after which this service may no longer change its mode. So the
 * file is created with this mode (less what the umask takes away) and never changed afterwards.
 */
export const BUNDLE_MODE = 0o640;

const failed = (message: string) => new AppError('update_download_failed', 502, message);

/** What fetch says went wrong: undici puts the socket's error (ECONNREFUSED, ENOTFOUND…) in `cause`. */
export const fetchReason = (e: unknown): string => ((e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message);

/** Any permission bit beyond BUNDLE_MODE: a file made by an older version of this service. */
const looser = (mode: number) => (mode & 0o777 & ~BUNDLE_MODE) !== 0;

const hashInto = (file: string, hash: Hash) =>
  pipeline(fs.createReadStream(file), new Writable({ write(c: Buffer, _e, cb) { hash.update(c); cb(); } }));

/** Hashes what an earlier attempt left, so the final digest covers the whole file without reading it twice. */
async function hashExisting(part: string, size: number) {
  const hash = createHash('sha256');
  let have = 0;
  try {
    const st = await fs.promises.stat(part);
    have = st.size;
    // longer than this bundle: not its start; a looser mode: the finished file would keep it
    if (have > size || looser(st.mode)) { await fs.promises.rm(part, { force: true }); have = 0; }
    else if (have > 0) await hashInto(part, hash);
  } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; }
  return { hash, have };
}

/**
 * A bundle finished before a power cut or a restart of this service is used as it is, once it still
 * matches the index. Anything else (another size or content, a mode looser than the one RAUC accepts,
 * a file this service can no longer read) is deleted and fetched again. One that RAUC took over during an
 * install that was cut off (root's now, read-only) is copied into a file of this service's own: `rauc
 * info`, run as this user, must take a lease on the bundle it checks, which only its owner may.
 */
async function keptBundle(dest: string, size: number, sha256: string): Promise<boolean> {
  try {
    const st = await fs.promises.stat(dest);
    if (st.size === size && !looser(st.mode)) {
      const hash = createHash('sha256');
      if (st.uid === process.getuid?.()) {
        await hashInto(dest, hash);
        if (hash.digest('hex') === sha256) return true;
      } else {
        const copy = `${dest}.part`;
        await pipeline(fs.createReadStream(dest), new Transform({ transform(c: Buffer, _e, cb) { hash.update(c); cb(null, c); } }),
          fs.createWriteStream(copy, { mode: BUNDLE_MODE }));
        if (hash.digest('hex') === sha256) { await fs.promises.rename(copy, dest); return true; }
        await fs.promises.rm(copy, { force: true });
      }
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
  }
  await fs.promises.rm(dest, { force: true });
  return false;
}

async function ensureSpace(dir: string, need: number): Promise<void> {
  const s = await fs.promises.statfs(dir);
  const free = s.bavail * s.bsize;
  if (free < need) {
    throw new AppError('update_no_space', 507, `The update needs ${Math.ceil(need / 1e6)} MB more on the data partition; ${Math.floor(free / 1e6)} MB are free (delete uploaded files or timelapses)`);
  }
}

/** Downloads (or finishes downloading) a bundle; resolves with `dest` once it is complete and verified. */
export async function downloadBundle(req: DownloadRequest): Promise<string> {
  const part = `${req.dest}.part`;
  await fs.promises.mkdir(path.dirname(req.dest), { recursive: true });
  const known = req.size !== undefined && req.sha256 !== undefined;
  if (known && await keptBundle(req.dest, req.size!, req.sha256!)) { req.onProgress?.(req.size!, req.size!); return req.dest; }
  if (!known) await fs.promises.rm(part, { force: true });
  let { hash, have } = await hashExisting(part, req.size ?? 0);
  let total = req.size ?? 0;
  if (!known || have < total) {
    const doFetch = req.fetchImpl ?? fetch;
    let res: Response;
    try {
      res = await doFetch(req.url, { headers: have > 0 ? { Range: `bytes=${have}-` } : {}, signal: req.signal, redirect: 'follow' });
    } catch (e) {
      if (req.signal?.aborted) throw new AppError('update_cancelled', 409, 'The download was cancelled');
      throw failed(`Downloading ${req.url} failed: ${fetchReason(e)}`);
    }
    if (have > 0 && res.status === 200) { hash = createHash('sha256'); have = 0; } // the server ignored the range: from the start
    else if (have > 0 && res.status !== 206) throw failed(`The update server answered ${res.status} when asked for the rest of ${req.url}`);
    else if (have === 0 && res.status !== 200) throw failed(`The update server answered ${res.status} for ${req.url}`);
    if (res.status === 206 && !new RegExp(`^bytes ${have}-`).test(res.headers.get('content-range') ?? '')) {
      throw failed(`The update server sent another part of ${req.url} than the one asked for`);
    }
    if (!res.body) throw failed(`The update server sent no body for ${req.url}`);
    if (!known) total = Number(res.headers.get('content-length')) || 0;
    await ensureSpace(path.dirname(req.dest), total - have);
    const out = fs.createWriteStream(part, { flags: have > 0 ? 'a' : 'w', mode: BUNDLE_MODE });
    let received = have;
    let shown = 0;
    const every = req.progressMs ?? 500;
    const counter = new Writable({
      write(chunk: Buffer, _enc, cb) {
        received += chunk.length;
        if (known && received > total) { cb(failed(`${req.url} is larger than the ${total} bytes the index announced`)); return; }
        hash.update(chunk);
        const now = Date.now();
        if (req.onProgress && now - shown >= every) { shown = now; req.onProgress(received, total); }
        if (!out.write(chunk)) out.once('drain', () => cb()); else cb();
      },
      final(cb) { out.end(cb); },
      destroy(err, cb) { out.destroy(); cb(err); },
    });
    out.on('error', (e) => counter.destroy(e)); // a full disk or a removed card ends the download with its reason
    try {
      await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), counter);
    } catch (e) {
      if (e instanceof AppError) { await fs.promises.rm(part, { force: true }); throw e; }
      if (req.signal?.aborted) throw new AppError('update_cancelled', 409, 'The download was cancelled; it resumes where it stopped');
      throw failed(`Downloading ${req.url} stopped after ${received} of ${total || '?'} bytes (${(e as Error).message})${known ? '; it resumes where it stopped' : ''}`);
    }
    req.onProgress?.(received, total || received);
    if (received < total) throw failed(`${req.url} ended after ${received} of ${total} bytes${known ? '; it resumes where it stopped' : ''}`);
  }
  const digest = hash.digest('hex');
  if (known && digest !== req.sha256) {
    await fs.promises.rm(part, { force: true });
    throw new AppError('update_checksum_mismatch', 502, `The downloaded bundle does not match the index (SHA-256 ${digest.slice(0, 12)}…, expected ${req.sha256!.slice(0, 12)}…); it was deleted`);
  }
  await fs.promises.rename(part, req.dest);
  return req.dest;
}
