/**
 * JPEG frames → an H.264 MP4 that every browser and phone plays (yuv420p, even sides, moov atom first), with
 * Debian's ffmpeg. It must never slow a print: ffmpeg runs at the lowest CPU priority (nice 19) and idle I/O
 * class (ionice -c 3) so the printer service, at normal priority, always runs first, and with two threads so
 * a Pi Zero 2 W keeps memory and a core free (bench/timelapse.ts measures the streaming rate meanwhile).
 * Progress comes from ffmpeg's own `-progress` report (frame=N).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface EncodeJob {
  framesDir: string;
  frames: number;
  fps: number;
  /** The finished video; written as <out>.part first, renamed when ffmpeg succeeded. */
  out: string;
  onProgress?: (p: number) => void;
  /** The ffmpeg binary (tests, a non-Debian host). */
  ffmpeg?: string;
}

const IONICE = ['/usr/bin/ionice', '/bin/ionice'].find((p) => fs.existsSync(p));

export function ffmpegArgs(j: EncodeJob, part: string): string[] {
  return [
    '-hide_banner', '-loglevel', 'error', '-nostats', '-y',
    '-framerate', String(j.fps), '-i', path.join(j.framesDir, 'frame-%05d.jpg'),
    '-vf', 'scale=trunc(iw/2)*2:trunc(ih/2)*2,format=yuv420p',
    '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-threads', '2',
    '-movflags', '+faststart', '-f', 'mp4', '-progress', 'pipe:1', part,
  ];
}

/** Resolves when the video is in place; rejects with ffmpeg's own words (or "not installed"). */
export function encode(j: EncodeJob): Promise<void> {
  const part = `${j.out}.part`;
  const cmd = [...(IONICE ? [IONICE, '-c', '3'] : []), j.ffmpeg ?? 'ffmpeg', ...ffmpegArgs(j, part)];
  return new Promise((resolve, reject) => {
    const child = spawn('nice', ['-n', '19', ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    let buf = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const m = /^frame=(\d+)/.exec(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (m && j.frames) j.onProgress?.(Math.min(1, Number(m[1]) / j.frames));
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => { if (err.length < 4000) err += d; });
    child.on('error', (e) => reject(e));
    child.on('close', (code) => {
      if (code === 0) {
        fs.renameSync(part, j.out);
        return resolve();
      }
      fs.rmSync(part, { force: true });
      // nice itself exits 127 when the program is missing
      reject(new Error(code === 127 ? 'ffmpeg is not installed (Debian package ffmpeg)' : `ffmpeg failed (exit ${code}): ${err.trim().split('\n').slice(-3).join(' ') || 'no message'}`));
    });
  });
}
