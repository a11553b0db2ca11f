/**
 * The port's direct reads and writes (services/printer/serial/direct-io.ts) over a real pty: a burst far
 * larger than the pty's buffer arrives whole and in order (writes that would block wait for `writable`),
 * the answer is read back, and closing the port while a read waits for `readable` closes it cleanly.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { openSerialPort } from '../../services/printer/serial/port.ts';

// The far end: prints the pty's path, lets the host fill the buffer, then reads everything and answers
// with the byte count and a digest.
const FAR_END = `
import hashlib, os, pty, sys, time, tty
m, s = pty.openpty(); tty.setraw(s); tty.setraw(m)
print(os.ttyname(s), flush=True)
want = int(sys.argv[1]); data = b''
time.sleep(0.3)
while len(data) < want: data += os.read(m, 65536)
os.write(m, ('%d %s\\n' % (len(data), hashlib.sha256(data).hexdigest())).encode())
sys.stdin.read()
`;

test('a burst larger than the pty buffer is written whole and in order; the answer is read back', async () => {
  const lines = Array.from({ length: 6000 }, (_, i) => `N${i} G1 X${i % 200}.125 Y${(i * 7) % 200}.5 E${i}.03125\n`);
  const payload = lines.join('');
  const far = spawn('python3', ['-c', FAR_END, String(payload.length)], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const [first] = (await once(far.stdout, 'data')) as [Buffer];
    const port = await openSerialPort(first.toString().trim(), 115200);
    const answer = new Promise<string>((resolve) => port.onLine(resolve));
    for (const l of lines) port.write(l);
    const { createHash } = await import('node:crypto');
    assert.equal(await answer, `${payload.length} ${createHash('sha256').update(payload, 'latin1').digest('hex')}`);
    const closed = new Promise<{ disconnected: boolean }>((resolve) => port.onClose(resolve));
    await port.close();
    assert.deepEqual(await closed, { disconnected: false });
  } finally {
    far.kill();
  }
});
