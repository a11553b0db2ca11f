/**
 * Child-process half of ensureCert(): makes the self-signed certificate and prints it as JSON.
 * It runs in its own short-lived process so selfsigned/node-forge never become part of the web's
 * resident memory (≤ 150 MiB idle for all services, and the first boot is what is measured).
 * Input (stdin, JSON): { hostname, dns[], ips[] }. Output (stdout, JSON): { private, cert }.
 */
import { generate } from 'selfsigned';

interface Request { hostname: string; dns: string[]; ips: string[] }

async function main(): Promise<void> {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const req = JSON.parse(input) as Request;
  const now = new Date();
  const pems = await generate([{ name: 'commonName', value: req.hostname }, { name: 'organizationName', value: 'PrintBox' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 24 * 3600_000), // tolerate a Pi whose clock is a bit behind before NTP
    notAfterDate: new Date(now.getTime() + 10 * 365 * 24 * 3600_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [...req.dns.map((value) => ({ type: 2 as const, value })), ...req.ips.map((ip) => ({ type: 7 as const, ip }))] },
    ],
  });
  process.stdout.write(JSON.stringify({ private: pems.private, cert: pems.cert }));
}

main().catch((err) => { process.stderr.write(`certificate generation failed: ${String(err)}\n`); process.exit(1); });
