/**
 * Boots a PrintBox disk image under qemu-system-aarch64 for the image test. The guest gets
 * `-netdev user,restrict=on`: it can reach nothing but the forwarded ports we list, so a booting
 * image can never talk to the internet. Its own kernel/initrd are used (like the Pi firmware would).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { promisify } from 'node:util';

export const exec = promisify(execFile);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface GuestForward { guestIp: string; guestPort: number; hostPort: number }

export interface BootOptions {
  image: string;
  kernel: string;
  initrd: string;
  /** host port → guest port, bound on 127.0.0.1 only */
  hostForwards: Record<number, number>;
  guestForwards: GuestForward[];
  consoleLog: string;
  memoryMiB?: number;
}

export interface Vm { proc: ChildProcess; stop(): Promise<void> }

export function boot(opts: BootOptions): Vm {
  const net = ['user', 'id=n0', 'restrict=on',
    ...Object.entries(opts.hostForwards).map(([h, g]) => `hostfwd=tcp:127.0.0.1:${h}-:${g}`),
    // cmd: spawns one connector per guest connection (a tcp: chardev would serve only the first one)
    ...opts.guestForwards.map((f) => `guestfwd=tcp:${f.guestIp}:${f.guestPort}-cmd:socat - TCP:127.0.0.1:${f.hostPort}`),
  ].join(',');
  const args = [
    '-M', 'virt', '-cpu', 'cortex-a53', '-smp', '2', '-m', String(opts.memoryMiB ?? 1024),
    '-accel', 'tcg,thread=multi',
    '-kernel', opts.kernel, '-initrd', opts.initrd,
    '-append', 'root=LABEL=PBROOT rootfstype=ext4 rootwait console=ttyAMA0 fsck.repair=yes',
    '-drive', `if=none,file=${opts.image},format=raw,id=d0`, '-device', 'virtio-blk-device,drive=d0',
    '-netdev', net, '-device', 'virtio-net-device,netdev=n0',
    '-device', 'virtio-rng-device',
    '-display', 'none', '-monitor', 'none', '-serial', `file:${opts.consoleLog}`, '-no-reboot',
  ];
  const proc = spawn('qemu-system-aarch64', args, { stdio: ['ignore', 'inherit', 'inherit'] });
  return {
    proc,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Polls fn until it returns a value (not undefined) or the deadline passes; prints progress. */
export async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const start = Date.now();
  let last: unknown;
  while (Date.now() - start < timeoutMs) {
    try {
      const v = await fn();
      if (v !== undefined) {
        console.log(`# ${what}: ok after ${Math.round((Date.now() - start) / 1000)} s`);
        return v;
      }
    } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, 3000));
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

export function tail(file: string, lines = 60): string {
  try { return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n'); } catch { return '(no console log)'; }
}
