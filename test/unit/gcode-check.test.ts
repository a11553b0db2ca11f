/**
 * GcodeCheck: the upload check that runs while an upload is written (services/web/upload-storage.ts)
 * must give the same answer however the bytes are cut into chunks — a network upload arrives in pieces
 * of any size, unlike a file read back in 64 KiB blocks.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GcodeCheck } from '../../services/shared/files.ts';

const latin1 = (s: string) => Buffer.from(s, 'utf8').toString('latin1');

function run(text: string, chunk: number): number {
  const c = new GcodeCheck();
  const bytes = latin1(text);
  for (let i = 0; i < bytes.length; i += chunk) c.write(bytes.slice(i, i + chunk));
  return c.end();
}

test('the count is the same for any chunking: BOM split across chunks, CRLF split between CR and LF, no final newline', () => {
  const text = '\uFEFF; sliced\r\nG28\r\nM486 S0 A"Würfel"\r\nG1 X1 Y1 ; move\r\n\r\nM117 Fertig ✓';
  for (const size of [1, 2, 3, 5, 7, 64, 65_536]) assert.equal(run(text, size), 4, `chunks of ${size}`);
});

test('the first bad line is named whatever the chunking; a line with no end is refused past 1 MB, not buffered', () => {
  for (const size of [1, 3, 4096]) {
    assert.throws(() => run('G28\nG1 X1\nG1 X2*7\n', size), { message: /^Line 3: control character or "\*"/ });
    assert.throws(() => run('G28\nG1 X1\rG1 X2\n', size), { message: /^Line 2: CR-only line endings/ });
    assert.throws(() => run('G28\n\0\0\n', size), { message: /^Line 2: binary data/ });
  }
  const c = new GcodeCheck();
  c.write('G28\n');
  assert.throws(() => { for (let i = 0; i < 20; i++) c.write('X'.repeat(64 * 1024)); }, { message: /^Line 2: longer than 1 MB without a line break/ });
  assert.throws(() => run('; only a comment\n\n', 2), { message: 'The file contains no G-code commands' });
  assert.throws(() => run('\uFEFF', 1), { message: 'The file contains no G-code commands' });
});
