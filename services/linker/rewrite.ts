/**
 * Writes printbox.txt back after a run: the result as `# printbox:` comment lines at the top
 * (replacing the previous run's), used secret values removed (the key stays, commented), everything
 * else byte-for-byte as the user wrote it. Atomic (temp + fsync + rename) because FAT on an SD card
 * is exactly where a power cut leaves half-written files.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../shared/link/atomic.ts';
import type { ParsedLine } from './parse.ts';

const RESULT_PREFIX = '# printbox:';

export interface RewriteInput {
  lines: ParsedLine[];
  /** Keys whose values are removed. */
  scrub: ReadonlySet<string>;
  /** One comment line each, without the prefix. */
  result: string[];
  /** Line ending the user's file used, kept so Notepad users see lines, not one long line. */
  eol: '\n' | '\r\n';
}

export function renderBootFile(inp: RewriteInput): string {
  const body = inp.lines
    .filter((l) => !l.raw.trimStart().startsWith(RESULT_PREFIX))
    .map((l) => (l.key && inp.scrub.has(l.key) && l.value ? `# ${l.key} = (removed after use)` : l.raw));
  while (body.length && body[body.length - 1] === '') body.pop();
  const head = inp.result.map((r) => `${RESULT_PREFIX} ${r.replace(/[\r\n]+/g, ' ')}`);
  return [...head, ...body, ''].join(inp.eol);
}

export function writeBootFile(file: string, text: string): void {
  writeFileAtomic(file, text);
}

/**
 * A file that is not text (or absurdly large) is kept aside as printbox.txt.invalid — never
 * destroyed, it may be someone's only copy — and a fresh printbox.txt carries the error.
 */
export function quarantineBootFile(file: string, result: string[]): string {
  const aside = `${file}.invalid`;
  fs.renameSync(file, aside);
  writeFileAtomic(file, renderBootFile({ lines: [], scrub: new Set(), result: [...result, `the original file was moved to ${path.basename(aside)}`], eol: '\n' }));
  return aside;
}
