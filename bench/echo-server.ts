/**
 * The event-loop probe's control in the login benchmark (bench/login.ts): a Node https server that answers
 * every request with a small JSON body and does nothing else, with the web's own key and certificate. Probed
 * beside the web during the same load, its latency is what the shared machine's scheduling alone adds, so
 * a delay the web shows beyond it is the web's own.
 * Env (bench only): ECHO_TLS_DIR (key.pem, cert.pem).
 */
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';

const tlsDir = process.env.ECHO_TLS_DIR ?? '';
if (!tlsDir) throw new Error('ECHO_TLS_DIR is required');
const server = https.createServer({ key: fs.readFileSync(path.join(tlsDir, 'key.pem')), cert: fs.readFileSync(path.join(tlsDir, 'cert.pem')) }, (req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ok":true}'));
});
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`[echo] listening ${JSON.stringify({ port: typeof addr === 'object' && addr ? addr.port : 0 })}\n`);
});
process.on('SIGTERM', () => { server.close(); process.exit(0); });
