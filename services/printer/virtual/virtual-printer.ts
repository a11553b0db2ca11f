/**
 * A virtual printer = a pseudo-terminal (via a tiny python3 pty bridge, no native Node deps) with the
 * Marlin simulator on its far side. The service opens `link` exactly like /dev/serial/by-id/…;
 * unplug() removes the pty (the service sees EIO/close), replug() creates a new one at the same path.
 * Opening the port resets the simulated board like DTR does on a CH340/AVR printer (resetOnOpen).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { MarlinSimulator, type SimOptions } from './simulator.ts';

// Kept inline so the compiled build/ needs no extra files. Exported for test boards other than the simulator.
// The bridge closes its own slave fd so the master reports POLLHUP while no host has the port open
// (Linux pty behaviour, as socat's wait-slave relies on). The moment a host opens the port the HUP
// clears and the bridge says "open" on stderr: that is the DTR edge that resets a CH340/FTDI+AVR board.
export const BRIDGE = String.raw`
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
os.close(slave)
def cleanup(*_):
    try:
        if os.path.realpath(link) == name: os.unlink(link)
    except OSError: pass
    os._exit(0)
signal.signal(signal.SIGTERM, cleanup)
signal.signal(signal.SIGINT, cleanup)
sys.stderr.write(name + '\n'); sys.stderr.flush()
stdin = sys.stdin.fileno(); stdout = sys.stdout.fileno()
mp = select.poll(); mp.register(master, select.POLLIN)
both = select.poll(); both.register(master, select.POLLIN); both.register(stdin, select.POLLIN)
only_in = select.poll(); only_in.register(stdin, select.POLLIN)
opened = False
while True:
    ev = mp.poll(0); m = ev[0][1] if ev else 0
    hup = bool(m & select.POLLHUP)
    if not opened and (not hup or m & select.POLLIN):
        opened = True; sys.stderr.write('open\n'); sys.stderr.flush()
    if m & select.POLLIN:
        try: data = os.read(master, 65536)
        except OSError: data = b''
        view = memoryview(data)
        while view:
            n = os.write(stdout, view); view = view[n:]
    if hup and opened:
        opened = False; sys.stderr.write('close\n'); sys.stderr.flush()
    # While nobody has the port open the master stays readable (HUP): poll stdin only, with a tick.
    r = (only_in.poll(20) if hup else both.poll())
    if any(fd == stdin for fd, _ in r):
        data = os.read(stdin, 65536)
        if not data: cleanup()
        os.write(master, data)
`;

export interface VirtualPrinterOptions extends Partial<SimOptions> {
  link: string;
  python?: string;
  /** Opening the port resets the board (CH340/FTDI + AVR via DTR; default). Native-USB boards do not. */
  resetOnOpen?: boolean;
}

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
      let buf = '';
      let named = false;
      // Line 1 is the pty name (ready); then "open"/"close" whenever a host opens or closes the port.
      child.stderr!.on('data', (d: Buffer) => {
        buf += d.toString();
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl); buf = buf.slice(nl + 1);
          if (!named) { named = true; resolve(); continue; }
          if (line === 'open' && this.child === child && this.opts.resetOnOpen !== false) this.sim.reset();
        }
      });
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
