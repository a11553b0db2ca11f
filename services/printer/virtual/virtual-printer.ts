/**
 * A virtual printer = a pseudo-terminal (via a tiny python3 pty bridge, no native Node deps) with the
 * Marlin simulator on its far side. The service opens `link` exactly like /dev/serial/by-id/…;
 * unplug() removes the pty (the service sees EIO/close), replug() creates a new one at the same path.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { MarlinSimulator, type SimOptions } from './simulator.ts';

// Kept inline so the compiled build/ needs no extra files.
const BRIDGE = String.raw`
import os, pty, select, signal, sys, tty
link = sys.argv[1]
master, slave = pty.openpty()
tty.setraw(slave)
name = os.ttyname(slave)
tmp = link + '.tmp'
try: os.unlink(tmp)
except FileNotFoundError: pass
os.symlink(name, tmp)
os.replace(tmp, link)
def cleanup(*_):
    try:
        if os.path.realpath(link) == name: os.unlink(link)
    except OSError: pass
    os._exit(0)
signal.signal(signal.SIGTERM, cleanup)
signal.signal(signal.SIGINT, cleanup)
sys.stderr.write(name + '\n'); sys.stderr.flush()
stdin = sys.stdin.fileno(); stdout = sys.stdout.fileno()
while True:
    r, _, _ = select.select([stdin, master], [], [])
    if stdin in r:
        data = os.read(stdin, 65536)
        if not data: cleanup()
        os.write(master, data)
    if master in r:
        try: data = os.read(master, 65536)
        except OSError: data = b''
        view = memoryview(data)
        while view:
            n = os.write(stdout, view); view = view[n:]
`;

export interface VirtualPrinterOptions extends Partial<SimOptions> { link: string; python?: string }

export class VirtualPrinter {
  readonly sim: MarlinSimulator;
  private child: ChildProcess | undefined;
  private constructor(private readonly opts: VirtualPrinterOptions) {
    this.sim = new MarlinSimulator(opts, (data) => { if (this.child?.stdin?.writable) this.child.stdin.write(data, 'latin1'); });
  }

  static async create(opts: VirtualPrinterOptions): Promise<VirtualPrinter> {
    const vp = new VirtualPrinter(opts);
    await vp.replug();
    return vp;
  }

  get link(): string { return this.opts.link; }
  get plugged(): boolean { return !!this.child; }

  /** Creates the pty (again) and powers the board up. */
  async replug(): Promise<void> {
    if (this.child) return;
    const child = spawn(this.opts.python ?? 'python3', ['-u', '-c', BRIDGE, this.opts.link], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => { if (this.child === child) this.sim.receive(d); });
    child.stdin!.on('error', () => undefined);
    child.on('exit', () => { if (this.child === child) this.child = undefined; });
    await new Promise<void>((resolve, reject) => {
      child.stderr!.once('data', () => resolve());
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`pty bridge exited (${code})`)));
    });
    this.sim.reset();
  }

  /** The USB cable is pulled: the pty and its symlink disappear. */
  async unplug(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    await new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.kill('SIGTERM'); });
  }

  async close(): Promise<void> { await this.unplug(); this.sim.close(); }
}
