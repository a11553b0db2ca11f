/**
 * A stand-in for ustreamer on a Unix socket, for the web's camera proxy tests on this machine (whose kernel
 * cannot load vivid or v4l2loopback, so the real ustreamer has no device here; the image test runs the real
 * one on vivid inside QEMU). It speaks ustreamer's HTTP surface as ustreamer(1) and its /state JSON describe it:
 * GET /state, /snapshot (one JPEG) and /stream (multipart/x-mixed-replace, boundary `boundarydonotcross`, a
 * frame every `frameMs`), and counts the connections it served, so a test can show a refused request never
 * reached the camera.
 */
import fs from 'node:fs';
import http from 'node:http';

/** A tiny JPEG-framed picture (SOI … EOI), easy to recognise in a stream; the proxy never decodes it. */
export const JPEG = Buffer.from(
  'ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c1912130f141d1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc0000b080001000101011100ffc4001f0000010501010101010100000000000000000102030405060708090a0bffc400b5100002010303020403050504040000017d01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffda0008010100003f00fbd3ffd9',
  'hex',
);
export const BOUNDARY = 'boundarydonotcross';

export interface FakeUstreamer {
  readonly socket: string;
  /** Requests served, by path. */
  readonly served: Record<string, number>;
  /** Stream clients connected right now. */
  readonly clients: number;
  /** The camera goes away: the socket closes and is removed, open streams end (as when its unit stops). */
  stop(): Promise<void>;
}

/** jpegs: the pictures served in turn (real ones from ffmpeg for timelapse tests); default JPEG. */
export async function startFakeUstreamer(socket: string, opts: { frameMs?: number; online?: boolean; jpegs?: Buffer[] } = {}): Promise<FakeUstreamer> {
  const served: Record<string, number> = {};
  const pictures = opts.jpegs?.length ? opts.jpegs : [JPEG];
  let turn = 0;
  const next = () => pictures[turn++ % pictures.length]!;
  const streams = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const p = (req.url ?? '').split('?')[0]!;
    served[p] = (served[p] ?? 0) + 1;
    if (p === '/state') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ ok: true, result: { source: { online: opts.online ?? true, captured_fps: 30, desired_fps: 30, resolution: { width: 1280, height: 720 } }, stream: { clients: streams.size, queued_fps: 30 } } }));
    }
    if (p === '/snapshot') {
      if (opts.online === false) { res.writeHead(503); return res.end(); }
      const jpeg = next();
      res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': jpeg.length });
      return res.end(jpeg);
    }
    if (p === '/stream') {
      res.writeHead(200, { 'Content-Type': `multipart/x-mixed-replace;boundary=${BOUNDARY}`, 'Cache-Control': 'no-store' });
      streams.add(res);
      res.on('close', () => streams.delete(res));
      return;
    }
    res.writeHead(404); res.end();
  });
  const frame = () => { const jpeg = next(); return Buffer.concat([Buffer.from(`--${BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\nX-Timestamp: ${Date.now() / 1000}\r\n\r\n`), jpeg, Buffer.from('\r\n')]); };
  // A client whose socket has not taken the last frame yet skips this one: a stuck viewer must not make the
  // stand-in itself buffer without end (what is tested is the proxy in front of it).
  const timer = setInterval(() => { for (const r of streams) if (!r.writableNeedDrain) r.write(frame()); }, opts.frameMs ?? 40);
  fs.rmSync(socket, { force: true });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    socket, served,
    get clients() { return streams.size; },
    stop: async () => {
      clearInterval(timer);
      for (const r of streams) r.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      fs.rmSync(socket, { force: true });
    },
  };
}
