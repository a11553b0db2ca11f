/**
 * The Marlin model on a real pty: the same python pty bridge the virtual printer uses (its BRIDGE script:
 * `open` on stderr when a host opens the port, i.e. the DTR edge), with MarlinModel instead of PrintBox's
 * simulator on the far side. A board whose flavour resets on open reboots at every open, like a CH340/AVR.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { BRIDGE } from '../../../services/printer/virtual/virtual-printer.ts';
import { MarlinModel, type ModelOptions } from './model.ts';

export class ModelBoard {
  readonly model: MarlinModel;
  private child: ChildProcess | undefined;

  private constructor(readonly link: string, opts: Partial<ModelOptions>) {
    this.model = new MarlinModel(opts, (d) => { if (this.child?.stdin?.writable) this.child.stdin.write(d, 'latin1'); });
  }

  static async create(link: string, opts: Partial<ModelOptions>): Promise<ModelBoard> {
    const board = new ModelBoard(link, opts);
    const child = spawn('python3', ['-u', '-c', BRIDGE, link], { stdio: ['pipe', 'pipe', 'pipe'] });
    board.child = child;
    child.stdout!.on('data', (d: Buffer) => board.model.receive(d));
    child.stdin!.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      let buf = '';
      let named = false;
      child.stderr!.on('data', (d: Buffer) => {
        buf += d.toString();
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl); buf = buf.slice(nl + 1);
          if (!named) { named = true; resolve(); continue; }
          if (line === 'open' && board.model.opts.flavour.resetOnOpen) board.model.reset();
        }
      });
      child.once('error', reject);
      child.once('exit', (code) => { board.child = undefined; reject(new Error(`pty bridge exited (${code})`)); });
    });
    board.model.reset(); // power-up
    return board;
  }

  async close(): Promise<void> {
    this.model.close();
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null) await new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.kill('SIGTERM'); });
  }
}
