/**
 * Print streaming while a timelapse is encoded: the goal is a streaming rate within 5 % of the rate without.
 * The same file is streamed by the printer service (bench/printbox-run.ts) at 250000 baud with 1 ms replies —
 * the row closest to the wire, which a busy CPU would hurt first — alternately with nothing else running and
 * with the recorder's own encoder (services/web/timelapse/encoder.ts: ffmpeg at nice 19 and idle I/O class, two
 * threads) turning 1280×720 frames into H.264 all the while. Three rounds each; medians, their ratio, and how many
 * frames ffmpeg encoded during the runs (so "no slowdown" cannot come from an encoder that did nothing).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { encode } from '../services/web/timelapse/encoder.ts';
import { tempDir } from '../test/helpers/virtual-printer.ts';
import { printbox } from './printbox-run.ts';
import type { Config } from './sender-peers.ts';

const FRAMES = 300;
const ROUNDS = 3;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function timelapseBench(base: string[]): Promise<void> {
  const dir = tempDir('bench-timelapse');
  try {
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30', '-frames:v', String(FRAMES), '-q:v', '4', path.join(dir, 'frame-%05d.jpg')]);
    // About ten seconds of streaming per run at this row's rate.
    const file = Array.from({ length: 4 }, () => base).flat();
    const c: Config = { baud: 250_000, adv: true, bufsize: 4, latency: 1 };
    const quiet: number[] = []; const busy: number[] = [];
    let during = 0;
    for (let r = 0; r < ROUNDS; r++) {
      quiet.push((await printbox(c, file)).rate);
      let running = true;
      let finished = 0; let current = 0;
      const total = () => finished * FRAMES + current;
      const loop = (async () => {
        while (running) {
          current = 0;
          await encode({ framesDir: dir, frames: FRAMES, fps: 25, out: path.join(dir, 'out.mp4'), onProgress: (p) => { current = Math.round(p * FRAMES); } });
          finished++;
        }
      })();
      await new Promise((res) => setTimeout(res, 1000)); // ffmpeg is up to speed before the print starts
      const before = total();
      busy.push((await printbox(c, file)).rate);
      during = total() - before;
      running = false;
      await loop.catch(() => undefined);
    }
    const ratio = median(busy) / median(quiet);
    process.stdout.write(`\nStreaming while a timelapse encodes (250000 baud, ADVANCED_OK, 1 ms, ${file.length} lines, ${ROUNDS} rounds)\n`
      + `| | lines/s (median) | runs |\n|---|---|---|\n`
      + `| nothing else | ${median(quiet).toFixed(0)} | ${quiet.map((x) => x.toFixed(0)).join(', ')} |\n`
      + `| ffmpeg encoding 1280×720 (nice 19, ionice idle) | ${median(busy).toFixed(0)} | ${busy.map((x) => x.toFixed(0)).join(', ')} |\n`
      + `with/without: ${(ratio * 100).toFixed(1)} % (goal ≥ 95 %); frames encoded during the last streaming run: ${during}\n`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
