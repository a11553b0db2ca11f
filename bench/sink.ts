/**
 * The upload benchmark's peer (bench/upload.ts): the least an HTTPS upload to this machine can cost. A
 * plain Node https server that writes each request body to a file and fsyncs it, nothing else — no
 * multipart parsing, no checking, no auth. It uses the web's own key and certificate, so both sides
 * negotiate the same TLS, and it fsyncs because PrintBox does before it answers 201.
 * Env (bench only): SINK_DIR (where bodies go), SINK_TLS_DIR (key.pem, cert.pem).
 */
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

const dir = process.env.SINK_DIR ?? '';
const tlsDir = process.env.SINK_TLS_DIR ?? '';
if (!dir || !tlsDir) throw new Error('SINK_DIR and SINK_TLS_DIR are required');

let n = 0;
const server = https.createServer({ key: fs.readFileSync(path.join(tlsDir, 'key.pem')), cert: fs.readFileSync(path.join(tlsDir, 'cert.pem')) }, (req, res) => {
  const file = path.join(dir, `body-${++n}`);
  const out = fs.createWriteStream(file);
  let size = 0;
  req.on('data', (c: Buffer) => { size += c.length; });
  pipeline(req, out)
    .then(() => fs.promises.open(file, 'r+'))
    .then(async (fh) => { try { await fh.sync(); } finally { await fh.close(); } })
    .then(() => { res.writeHead(201, { 'Content-Type': 'application/json' }).end(JSON.stringify({ size })); })
    .catch((e: unknown) => { res.writeHead(500).end(String(e)); })
    .finally(() => { void fs.promises.rm(file, { force: true }); });
});
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`[sink] listening ${JSON.stringify({ port: typeof addr === 'object' && addr ? addr.port : 0 })}\n`);
});
process.on('SIGTERM', () => { server.close(); process.exit(0); });
