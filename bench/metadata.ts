/**
 * Metadata extraction time per MiB over the upload benchmark's G-code (bench/upload.ts), in this process
 * with the file in the page cache: GcodeCheck (what an upload runs on every chunk: line checks, command
 * count and the metadata/thumbnail parser) and describeFile (the same parser for a file copied in by
 * hand). The peer, in the same run over the same file: node:readline counting lines, the plain way to
 * read a text file line by line in Node. A bare read + split loop and `wc -l` show the floor under both.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import readline from 'node:readline';
import { describeFile } from '../services/shared/file-meta.ts';
import { GcodeCheck } from '../services/shared/files.ts';

const MiB = 1024 * 1024;
const RUNS = Number(process.env.BENCH_UPLOAD_RUNS ?? 5);

const latin1Chunks = (file: string) => fs.createReadStream(file, { encoding: 'latin1', highWaterMark: 64 * 1024 }) as AsyncIterable<string>;

const ways: Array<{ name: string; run(file: string): Promise<unknown> }> = [
  { name: 'peer: node:readline (count lines)', async run(file) {
    let n = 0;
    for await (const _line of readline.createInterface({ input: fs.createReadStream(file, { encoding: 'latin1' }), crlfDelay: Infinity })) n++;
    return n;
  } },
  { name: 'GcodeCheck (upload: check + describe)', async run(file) {
    const check = new GcodeCheck();
    for await (const chunk of latin1Chunks(file)) check.write(chunk);
    check.end();
    return check.description();
  } },
  { name: 'describeFile (describe a stored file)', async run(file) {
    const d = await describeFile(file);
    if (!d?.description.thumbnail) throw new Error('describeFile found no thumbnail');
    return d;
  } },
  { name: 'floor: read + split on \\n only', async run(file) {
    let n = 0; let carry = '';
    for await (const chunk of latin1Chunks(file)) {
      const text = carry + chunk; let from = 0; let i: number;
      while ((i = text.indexOf('\n', from)) >= 0) { n++; from = i + 1; }
      carry = text.slice(from);
    }
    return n;
  } },
  { name: 'floor: wc -l', async run(file) {
    const r = spawnSync('wc', ['-l', file]);
    if (r.status !== 0) throw new Error(`wc -l: ${r.stderr.toString()}`);
    return r.stdout.toString();
  } },
];

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };

export async function metadataBench(file: string, size: number): Promise<void> {
  const ms = ways.map(() => [] as number[]);
  for (let run = 0; run < RUNS; run++) {
    for (const [i, w] of ways.entries()) {
      const t0 = performance.now();
      await w.run(file);
      ms[i]!.push((performance.now() - t0) / (size / MiB));
    }
  }
  const peer = median(ms[0]!);
  process.stdout.write(`\nMetadata extraction over the same file (${(size / MiB).toFixed(1)} MiB, page-cached), ${RUNS} runs each, median:\n`);
  for (const [i, w] of ways.entries()) {
    const m = median(ms[i]!);
    process.stdout.write(`  ${w.name.padEnd(38)} ${m.toFixed(2).padStart(6)} ms/MiB = ${(1000 / m).toFixed(0).padStart(5)} MiB/s` +
      `${i === 0 ? '' : `, ${(m / peer).toFixed(2)}× the peer's time`}\n`);
  }
}
