/**
 * The peers of the sender benchmark (bench/bench.ts), each in its own process so its CPU time is its own:
 * Printrun's pronsole (printcore's sender, bench/pronsole-driver.py) and a one-line-in-flight sender
 * (OctoPrint's model, bench/one-line-sender.ts). Both open the virtual printer's pty themselves; only the
 * simulator runs here, as it does for PrintBox. Also the row printed per configuration.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir, VirtualPrinter } from '../test/helpers/virtual-printer.ts';

export interface Config { baud: number; adv: boolean; bufsize: number; latency: number }
/** Lines/s and CPU seconds of the sender's process during the streaming (idleCpu: what it used idle over as long). */
export interface SenderResult { rate: number; cpu: number; lines: number; idleCpu?: number }
export type Peer = 'pronsole' | 'one-line';

function command(peer: Peer, link: string, baud: number, gfile: string): [string, string[]] {
  if (peer === 'pronsole') return ['/usr/bin/python3', [path.join(import.meta.dirname, 'pronsole-driver.py'), link, String(baud), gfile]];
  return [process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'one-line-sender.ts'), link, String(baud), gfile]];
}

export async function runPeer(peer: Peer, { baud, adv, bufsize, latency }: Config, file: string[]): Promise<SenderResult> {
  const dir = tempDir('bench');
  const vp = await VirtualPrinter.create({ link: path.join(dir, 'vp-1'), baud, latencyMs: latency, advancedOk: adv, bufsize });
  const gfile = path.join(dir, 'bench.gcode');
  fs.writeFileSync(gfile, file.join('\n') + '\n');
  try {
    const [cmd, args] = command(peer, vp.link, baud, gfile);
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: dir } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      const t = setTimeout(() => child.kill(), 600_000);
      child.on('exit', (code) => { clearTimeout(t); if (code === 0) resolve(stdout); else reject(new Error(`${peer} exited ${code}: ${stdout}${stderr}`)); });
    });
    const r = JSON.parse(out.slice(out.lastIndexOf('{"seconds"')).trim()) as { seconds: number; lines: number; cpu: number };
    return { rate: r.lines / r.seconds, cpu: r.cpu, lines: r.lines };
  } finally { await vp.close(); fs.rmSync(dir, { recursive: true, force: true }); }
}

const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
/** CPU milliseconds per 10 000 lines. */
export const cpuPer10k = (r: SenderResult) => (r.cpu / r.lines) * 10_000 * 1000;

export function formatRow(c: Config, f: { wire: number; bound: number; pb: SenderResult; pr: SenderResult | null; one: SenderResult | null }): string {
  const { pb, pr, one, wire, bound } = f;
  const head = `${c.baud} baud, ADVANCED_OK ${c.adv ? 'on ' : 'off'}, BUFSIZE ${String(c.bufsize).padStart(2)}, latency ${String(c.latency).padStart(2)} ms: ` +
    `PrintBox ${pb.rate.toFixed(0).padStart(4)} lines/s = ${pct(pb.rate / wire)} of wire ${wire.toFixed(0)}, ${pct(pb.rate / bound)} of the safe bound ${bound.toFixed(0)}`;
  const peer = (name: string, r: SenderResult | null) => (r === null ? '' :
    `; ${name} ${r.rate.toFixed(0).padStart(3)} lines/s (${pct(r.rate / wire)} of wire), ratio ${(pb.rate / r.rate).toFixed(1)}×`);
  const cpu = (name: string, r: SenderResult | null) => (r === null ? '' : `, ${name} ${cpuPer10k(r).toFixed(0)}`);
  return `${head}${peer('pronsole', pr)}${peer('one-line', one)}\n` +
    `    CPU ms per 10 000 lines: PrintBox ${cpuPer10k(pb).toFixed(0)} (${cpuPer10k({ ...pb, cpu: pb.cpu - (pb.idleCpu ?? 0) }).toFixed(0)} above idle)${cpu('pronsole', pr)}${cpu('one-line', one)}` +
    (pr === null ? '' : ` → PrintBox ${cpuPer10k(pb) < cpuPer10k(pr) ? 'uses less' : 'does NOT use less'} CPU per line than printcore (${(cpuPer10k(pb) / cpuPer10k(pr)).toFixed(2)}×)`) + '\n';
}
