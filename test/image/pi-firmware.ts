/**
 * What the Raspberry Pi firmware would boot from the image's FAT partition: it reads config.txt
 * (conditional sections, last value wins, `include`), then loads the kernel, initramfs and device tree
 * it names and passes cmdline.txt to the kernel. The emulated-Pi test builds its QEMU command from
 * this, so a config.txt, cmdline.txt or DTB that would not boot a real Pi fails the test too.
 * Rules: https://www.raspberrypi.com/documentation/computers/config_txt.html
 */
import fs from 'node:fs';
import path from 'node:path';
import { exec } from './qemu.ts';

/** A board as the firmware sees it: the section filters it matches and the files it looks for by default. */
export interface PiBoard {
  name: string;
  /** model filters that apply to this board ([all] always does) */
  filters: string[];
  /** the device tree the firmware picks with upstream_kernel=1 (mainline names) and without (Pi kernel names) */
  upstreamDtb: string;
  downstreamDtb: string;
}

/** The board `qemu-system-aarch64 -M raspi3b` emulates (revision 1.2). */
export const PI3B: PiBoard = {
  name: 'raspi3b',
  filters: ['pi3'],
  upstreamDtb: 'bcm2837-rpi-3-b.dtb',
  downstreamDtb: 'bcm2710-rpi-3-b.dtb',
};

const MODEL_FILTER = /^(pi\d\+?|pi0w?|pi02|pi400|pi500|cm\d+s?|cm0)$/;

export interface PiConfig {
  /** last value of each `key=value` that applies to the board */
  settings: Map<string, string>;
  /** the `initramfs FILE [followkernel|ADDRESS]` command, if any applies */
  initramfs?: string;
  /** the applied lines, for the test log */
  applied: string[];
}

/**
 * Parses config.txt for one board. A model filter ([pi3], [pi4], …) replaces the previous model
 * filter, other filters ([tryboot], [gpio…], [0x…], [HDMI:…], [EDID=…]) do not match an unattended
 * first boot, [none] matches nothing, and [all] resets every filter.
 */
export function parseConfigTxt(text: string, board: PiBoard, readInclude: (name: string) => string = () => ''): PiConfig {
  const cfg: PiConfig = { settings: new Map(), applied: [] };
  let model = true;
  let other = true;
  const walk = (src: string, depth: number) => {
    for (const raw of src.split(/\r?\n/)) {
      const line = raw.replace(/#.*/, '').trim();
      if (!line) continue;
      const section = /^\[(.*)\]$/.exec(line);
      if (section) {
        const f = section[1]!.trim().toLowerCase();
        if (f === 'all') { model = true; other = true; } else if (f === 'none') { model = false; } else if (MODEL_FILTER.test(f)) {
          model = board.filters.includes(f);
        } else other = false;
        continue;
      }
      if (!model || !other) continue;
      const include = /^include\s+(\S+)$/.exec(line);
      if (include) {
        if (depth < 4) walk(readInclude(include[1]!), depth + 1);
        continue;
      }
      const initramfs = /^initramfs\s+(\S+)(?:\s+\S+)?$/.exec(line);
      if (initramfs) { cfg.initramfs = initramfs[1]!; cfg.applied.push(line); continue; }
      const kv = /^([\w.-]+)\s*=\s*(.*)$/.exec(line);
      if (kv) { cfg.settings.set(kv[1]!.toLowerCase(), kv[2]!.trim()); cfg.applied.push(line); }
    }
  };
  walk(text, 0);
  return cfg;
}

export interface PiBootPlan {
  kernel: string;
  initrd?: string;
  dtb: string;
  /** the kernel command line from cmdline.txt (or the file config.txt names), one line as the firmware reads it */
  cmdline: string;
  config: PiConfig;
}

/**
 * The files the firmware would load for `board`, read from a FAT partition at `offset` bytes into `img`
 * (mtools: no loop mounts) and copied to `dir`. Throws with the reason when the firmware would fail.
 */
export async function piBootPlan(img: string, offset: number, board: PiBoard, dir: string): Promise<PiBootPlan> {
  const fat = `${img}@@${offset}`;
  const read = async (name: string) => (await exec('mtype', ['-i', fat, `::${name}`], { maxBuffer: 1 << 20 })).stdout;
  const files = new Set((await exec('mdir', ['-b', '-i', fat, '::'])).stdout.split('\n')
    .map((l) => l.trim().replace(/^::\/?/, '').toLowerCase()).filter(Boolean));
  const includes = new Map<string, string>();
  for (const name of files) if (name.endsWith('.txt')) includes.set(name, await read(name));
  if (!includes.has('config.txt')) throw new Error('no config.txt on the boot partition');
  const config = parseConfigTxt(includes.get('config.txt')!, board, (n) => includes.get(n.toLowerCase()) ?? '');
  const s = config.settings;
  // A 64-bit kernel is only started in 64-bit mode; without arm_64bit=1 a Pi 3 boots 32-bit.
  if (s.get('arm_64bit') !== '1') throw new Error(`config.txt does not set arm_64bit=1 for ${board.name}`);
  const prefix = s.get('os_prefix') ?? '';
  const kernel = prefix + (s.get('kernel') ?? 'kernel8.img');
  const initrd = config.initramfs ?? (s.get('auto_initramfs') === '1' ? kernel.replace(/^kernel/, 'initramfs').replace(/\.img$/, '') : undefined);
  const dtb = prefix + (s.get('device_tree') ?? (s.get('upstream_kernel') === '1' ? board.upstreamDtb : board.downstreamDtb));
  const cmdlineFile = s.get('cmdline') ?? 'cmdline.txt';
  for (const [what, name] of [['kernel', kernel], ['initramfs', initrd], ['device tree', dtb], ['cmdline', cmdlineFile]] as const) {
    if (name && !files.has(name.toLowerCase())) throw new Error(`config.txt names ${what} ${name}, which is not on the boot partition`);
  }
  const cmdline = (includes.get(cmdlineFile.toLowerCase()) ?? await read(cmdlineFile)).split(/\r?\n/)[0]!.trim();
  if (!cmdline) throw new Error(`${cmdlineFile} is empty`);
  const copy = async (name: string) => {
    const dest = path.join(dir, path.basename(name));
    await exec('mcopy', ['-o', '-n', '-i', fat, `::${name}`, dest]);
    if (fs.statSync(dest).size === 0) throw new Error(`${name} on the boot partition is empty`);
    return dest;
  };
  return {
    kernel: await copy(kernel),
    initrd: initrd ? await copy(initrd) : undefined,
    dtb: await copy(dtb),
    cmdline,
    config,
  };
}
