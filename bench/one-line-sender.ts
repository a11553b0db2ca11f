/**
 * The one-line-in-flight peer of `npm run bench -- sender` (run by bench/sender-peers.ts in its own
 * process): OctoPrint's streaming model. OctoPrint's comm layer sends a numbered, checksummed line and
 * releases the next one only when the firmware's `ok` for it arrives (octoprint/util/comm.py: one
 * send token, returned by each ok), so at most one line is ever unacknowledged. It opens the port with
 * the same serialport code PrintBox uses, so both meet the same pty and simulator.
 * argv: port baud gcode-file. Prints {"seconds","lines","cpu"} (cpu = this process's CPU seconds, all
 * threads, during the streaming only) as JSON on stdout.
 */
import fs from 'node:fs';
import { numbered } from '../services/printer/protocol/gcode.ts';
import { openSerialPort } from '../services/printer/serial/port.ts';

const [portPath, baud, file] = process.argv.slice(2);
if (!portPath || !baud || !file) throw new Error('usage: one-line-sender.ts <port> <baud> <file>');
const lines = fs.readFileSync(file, 'latin1').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith(';'));

const port = await openSerialPort(portPath, Number(baud));
const received: string[] = [];
let waiter: (() => void) | undefined;
port.onLine((l) => { received.push(l); waiter?.(); });
const nextLine = (timeoutMs: number) => new Promise<string | undefined>((resolve) => {
  const take = () => { clearTimeout(t); waiter = undefined; resolve(received.shift()); };
  const t = setTimeout(take, timeoutMs);
  if (received.length) take(); else waiter = take;
});

// Opening the pty resets the simulated board: wait for its `start` (or a quiet second), then reset the line counter.
for (let l = await nextLine(3000); l !== undefined && l !== 'start'; l = await nextLine(1000));
port.write(numbered(0, 'M110 N0'));
for (let l = await nextLine(3000); !l?.startsWith('ok'); l = await nextLine(3000)) {
  if (l === undefined) throw new Error('no ok for M110');
}

const cpu0 = process.cpuUsage();
const t0 = performance.now();
let next = 1; // the line to send on the next ok; a `Resend: n` moves it back, Marlin sends its ok after
port.write(numbered(next, lines[next - 1]!));
next++;
for (;;) {
  const l = await nextLine(10_000);
  if (l === undefined) throw new Error(`no answer after line ${next - 1}`);
  const resend = /^Resend:\s*(\d+)/i.exec(l);
  if (resend) { next = Number(resend[1]); continue; }
  if (!l.startsWith('ok')) continue;
  if (next > lines.length) break;
  port.write(numbered(next, lines[next - 1]!));
  next++;
}
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
process.stdout.write(JSON.stringify({ seconds, lines: lines.length, cpu: (cpu.user + cpu.system) / 1e6 }) + '\n');
await port.close();
process.exit(0);
