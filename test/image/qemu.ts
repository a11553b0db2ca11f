/**
 * Boots a PrintBox disk image under qemu-system-aarch64 for the image test: `-M virt` with virtio
 * disk and network (boot()), or an emulated Raspberry Pi with the image as its SD card (bootRaspi()).
 * The virt guest gets `-netdev user,restrict=on`: it can reach nothing but the forwarded ports we list,
 * so a booting image can never talk to the internet; the Pi guest gets no network at all.
 * The virt guest starts Debian's U-Boot for QEMU as its firmware, which runs the card's boot.scr and so
 * picks the root slot as a Pi's U-Boot does; the Pi guest starts what config.txt names.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

export const exec = promisify(execFile);

export interface GuestReply { status: number; headers: http.IncomingHttpHeaders; body: string; raw: Buffer }

/** One HTTP(S) request to a forwarded guest port (a JSON body if `body` is given); the device's certificate is self-signed. */
/** A JSON request, or `body` as it is when it is a Buffer (give its content-type in `headers`). */
export function guestRequest(url: string, opts: { method?: string; body?: unknown; cookie?: string; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<GuestReply> {
  const u = new URL(url);
  const raw = Buffer.isBuffer(opts.body);
  const data = opts.body === undefined ? undefined : raw ? opts.body as Buffer : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = (u.protocol === 'https:' ? https : http).request(u, {
      method: opts.method ?? 'GET', rejectUnauthorized: false, timeout: opts.timeoutMs ?? 30_000,
      headers: { ...(data && !raw ? { 'content-type': 'application/json' } : {}), ...(opts.cookie ? { cookie: opts.cookie } : {}), ...opts.headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: raw.toString('utf8'), raw });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${opts.method ?? 'GET'} ${u.pathname}: timeout`)));
    req.on('error', reject);
    req.end(data);
  });
}

/** What the checks registered by boot.test.ts (camera, administration) may do with its booted guest. */
export interface Guest {
  ssh(cmd: string): Promise<string>;
  sudo(cmd: string): Promise<string>;
  /** the host port forwarded to the guest's 443 */
  httpsPort(): number;
  /** signs in as the first-boot admin; the session cookie */
  login(): Promise<string>;
  /** the first-boot admin account (printbox.txt): for a browser that signs in itself */
  admin: { user: string; password: string };
  /** resolves when QEMU has exited (the guest powered off) */
  exited(): Promise<void>;
  /** pulls the plug (SIGKILL) and powers the same card on again */
  powerCut(): Promise<void>;
  /** everything the serial console printed since the first power-on */
  console(): string;
}

/** Writes files into an ext4 image with debugfs (no loop mounts), replacing any there: path in the image → content (0644). */
export async function writeIntoExt4(image: string, files: Record<string, string>, tmp: string): Promise<void> {
  const cmds: string[] = [];
  for (const [i, [dest, content]] of Object.entries(files).entries()) {
    const local = path.join(tmp, `debugfs-${i}`);
    fs.writeFileSync(local, content, { mode: 0o644 });
    cmds.push(`rm ${dest}`, `write ${local} ${dest}`);
  }
  fs.writeFileSync(path.join(tmp, 'debugfs.cmds'), cmds.join('\n') + '\n');
  await exec('debugfs', ['-w', '-f', path.join(tmp, 'debugfs.cmds'), image]);
}

export const readFromExt4 = async (image: string, file: string) => (await exec('debugfs', ['-R', `cat ${file}`, image], { maxBuffer: 1 << 24 })).stdout;

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

/** image/assemble.sh: each root slot's size (PRINTBOX_SLOT_MIB's default) */
export const SLOT_MIB = 2048;

/**
 * What first boot grows: root fills its slot, data the rest of the card. `dfOut` is
 * `df --output=size -B1 / /data | tail -2`; `spareMiB` how much the card is larger than the image.
 */
export function grownSizes(dfOut: string, spareMiB: number): string | undefined {
  const [root, data] = dfOut.trim().split('\n').map(Number);
  if (!(root! > SLOT_MIB * 0.9 * 1024 * 1024)) return `root file system ${root} B: not grown to its ${SLOT_MIB} MiB slot`;
  if (!(data! > spareMiB * 0.9 * 1024 * 1024)) return `data file system ${data} B: not grown to the card (${spareMiB} MiB more than the image)`;
  return undefined;
}

/** Debian's u-boot-qemu: the virt guest's firmware (image/host-tools.sh installs it). */
export const UBOOT_QEMU = '/usr/lib/u-boot/qemu_arm64/u-boot.bin';

export interface BootOptions {
  image: string;
  /** host port → guest port, bound on 127.0.0.1 only */
  hostForwards: Record<number, number>;
  guestForwards: GuestForward[];
  consoleLog: string;
  memoryMiB?: number;
  /** A Unix socket QEMU makes for a USB serial adapter on an xHCI controller (usb-printer.ts answers on it). */
  usbSerialSocket?: string;
}

export interface Vm {
  /** the running QEMU (a new one after each power cut) */
  readonly proc: ChildProcess;
  stop(): Promise<void>;
}

export interface VirtVm extends Vm {
  /** SIGKILL, as a pulled plug, then the same card powered on again */
  powerCut(): Promise<void>;
}

/**
 * Powers the card on: U-Boot, boot.scr, the slot's kernel. A reboot of the guest resets the machine (as a
 * real board does), so a restart into the other slot happens inside one QEMU; power-off ends QEMU. The
 * console log is appended to, across power cuts.
 */
export function boot(opts: BootOptions): VirtVm {
  const net = ['user', 'id=n0', 'restrict=on',
    ...Object.entries(opts.hostForwards).map(([h, g]) => `hostfwd=tcp:127.0.0.1:${h}-:${g}`),
    // cmd: spawns one connector per guest connection (a tcp: chardev would serve only the first one)
    ...opts.guestForwards.map((f) => `guestfwd=tcp:${f.guestIp}:${f.guestPort}-cmd:socat - TCP:127.0.0.1:${f.hostPort}`),
  ].join(',');
  const args = [
    '-M', 'virt', '-cpu', 'cortex-a53', '-smp', '2', '-m', String(opts.memoryMiB ?? 1024),
    '-accel', 'tcg,thread=multi', '-bios', UBOOT_QEMU,
    '-drive', `if=none,file=${opts.image},format=raw,id=d0`, '-device', 'virtio-blk-device,drive=d0',
    '-netdev', net, '-device', 'virtio-net-device,netdev=n0',
    '-device', 'virtio-rng-device',
    ...(opts.usbSerialSocket ? ['-device', 'qemu-xhci,id=xhci', '-chardev', `socket,id=usbser,path=${opts.usbSerialSocket},server=on,wait=off`,
      '-device', 'usb-serial,chardev=usbser,bus=xhci.0'] : []),
    '-chardev', `file,id=con,path=${opts.consoleLog},append=on`, '-serial', 'chardev:con',
    '-display', 'none', '-monitor', 'none',
  ];
  const start = () => spawn('qemu-system-aarch64', args, { stdio: ['ignore', 'inherit', 'inherit'] });
  let proc = start();
  return {
    get proc() { return proc; },
    stop: () => stopProcess(proc),
    async powerCut() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGKILL');
        await exited;
      }
      fs.appendFileSync(opts.consoleLog, '\n[test: power cut; powered on again]\n');
      proc = start();
    },
  };
}

async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
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

/**
 * Grows a (copied) SD card image to a power of two, the only sizes QEMU's SD card model accepts, with at
 * least `spare` bytes beyond the image so that the first boot has a card to grow the root file system into.
 */
export function growToPowerOfTwo(file: string, spare = 0): number {
  let size = 1;
  while (size < fs.statSync(file).size + spare) size *= 2;
  fs.truncateSync(file, size);
  return size;
}

export interface RaspiBootOptions {
  /** a QEMU raspi machine, e.g. raspi3b */
  machine: string;
  /** the whole image as the SD card (a copy: the guest writes to it; size a power of two) */
  sd: string;
  kernel: string;
  initrd?: string;
  dtb: string;
  append: string;
  consoleLog: string;
  /** the UART the console is on: QEMU wires the PL011 first and the mini UART second */
  uart: 'pl011' | 'mini';
}

/**
 * Boots an emulated Raspberry Pi the way its firmware would (kernel, initramfs and device tree loaded
 * from the FAT, QEMU filling in memory and /chosen) with the image as the SD card, its console on
 * the returned serial line. No network device: the Pi's USB Ethernet is not part of the test.
 */
export function bootRaspi(opts: RaspiBootOptions): Vm & { console: SerialConsole } {
  const serials = opts.uart === 'pl011' ? ['chardev:con', 'null'] : ['null', 'chardev:con'];
  const args = [
    '-M', opts.machine,
    '-kernel', opts.kernel, ...(opts.initrd ? ['-initrd', opts.initrd] : []), '-dtb', opts.dtb,
    '-append', opts.append,
    '-drive', `if=sd,format=raw,file=${opts.sd}`,
    '-chardev', 'stdio,id=con,signal=off',
    ...serials.flatMap((s) => ['-serial', s]),
    '-display', 'none', '-monitor', 'none', '-no-reboot',
  ];
  const proc = spawn('qemu-system-aarch64', args, { stdio: ['pipe', 'pipe', 'inherit'] });
  // Typing into a QEMU that has exited (a panic with -no-reboot) must fail the wait, not crash the runner.
  proc.stdin!.on('error', () => {});
  const con = new SerialConsole(proc.stdin!, proc.stdout!, opts.consoleLog);
  return { proc, console: con, stop: () => stopProcess(proc) };
}

/**
 * A serial console driven like a person at a terminal: wait for text, type a line. Output is kept
 * (and written to the log) so each wait can start from an earlier mark and report when it matched.
 */
export class SerialConsole {
  private text = '';
  private readonly started = Date.now();
  private readonly listeners = new Set<() => void>();
  private runs = 0;

  constructor(private readonly input: NodeJS.WritableStream, output: NodeJS.ReadableStream, log: string) {
    const file = fs.createWriteStream(log);
    output.setEncoding('utf8');
    output.on('data', (chunk: string) => {
      file.write(chunk);
      this.text += chunk;
      for (const l of this.listeners) l();
    });
    output.on('end', () => file.end());
  }

  /** seconds since the emulator started */
  elapsed(): number { return (Date.now() - this.started) / 1000; }

  /** an offset into the output, to wait for text that comes after it */
  mark(): number { return this.text.length; }

  /**
   * Waits until `re` matches the output after `from`; resolves with the match and its end offset.
   * Rejects at once when `fail` matches first (a panic or an emergency shell will not get better).
   */
  expect(re: RegExp, timeoutMs: number, from = 0, fail?: RegExp): Promise<{ match: RegExpExecArray; end: number }> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const seen = this.text.slice(from);
        const bad = fail?.exec(seen);
        const match = re.exec(seen);
        if (bad && (!match || bad.index < match.index)) {
          done();
          reject(new Error(`"${bad[0]}" on the serial console while waiting for ${re}`));
        } else if (match) {
          done();
          resolve({ match, end: from + match.index + match[0].length });
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs / 1000} s waiting for ${re} on the serial console`));
      }, timeoutMs);
      const done = () => { clearTimeout(timer); this.listeners.delete(check); };
      this.listeners.add(check);
      check();
    });
  }

  /** Types one line; a serial terminal's Enter is a carriage return. */
  send(line: string): void { this.input.write(`${line}\r`); }

  /**
   * Logs in at the getty prompt and waits for the shell. Kernel messages may follow any prompt on the
   * same line, so prompts are matched without insisting on the end of the line.
   */
  async login(user: string, password: string, timeoutMs: number): Promise<void> {
    let at = this.mark();
    // A prompt may already be on the screen: an empty name makes getty print a fresh one.
    this.send('');
    at = (await this.expect(/login: /, timeoutMs, at)).end;
    this.send(user);
    at = (await this.expect(/Password: /, 60_000, at)).end;
    this.send(password);
    const { match } = await this.expect(/[$#] |Login incorrect/, 120_000, at);
    if (match[0] === 'Login incorrect') throw new Error(`console login as ${user} refused`);
    // No pager waiting for a key and no colour codes in what the checks read.
    const who = (await this.run('export SYSTEMD_PAGER=cat SYSTEMD_COLORS=0 PAGER=cat; id -un')).trim();
    if (who !== user) throw new Error(`console login: logged in as "${who}", not ${user}`);
  }

  /**
   * Runs a shell command and returns its output (stdout and stderr). The markers are printed with
   * printf so the echo of the typed line never matches them.
   */
  async run(cmd: string, timeoutMs = 120_000): Promise<string> {
    const n = ++this.runs;
    const from = this.mark();
    this.send(`printf 'PBOUT%s>\\n' ${n}; { ${cmd}; } 2>&1; printf 'PBEND%s>\\n' ${n}`);
    const begin = await this.expect(new RegExp(`PBOUT${n}>\\r?\\n`), timeoutMs, from);
    const end = await this.expect(new RegExp(`PBEND${n}>`), timeoutMs, begin.end);
    return this.text.slice(begin.end, end.end - end.match[0].length).replace(/\r/g, '');
  }
}
