/**
 * Bytes layer: serialport's own binding, but with reads and writes done on the port's file descriptor
 * directly instead of through libuv's thread pool.
 *
 * Why: bindings-cpp (unix-read.js, unix-write.js) makes every read and write an async fs call — a
 * thread-pool round trip (queue, wake a worker, signal the loop back, resolve promises) per `ok` received
 * and per line sent — and after each chunk read it reads again only to fail with EAGAIN (an Error object
 * with its stack) before it polls. While streaming a print that was the printer service's largest CPU cost
 * per line. bindings-cpp opens the port O_NONBLOCK, so readSync/writeSync never block the event loop: a
 * read first waits for the fd's poller to report `readable`; a write that finds the port's buffer full hands
 * the rest to bindings-cpp's own write, which waits for room. (Waiting here on the poller for `writable` while
 * a read waited for `readable` stalled on a pty in testing: the native poller's uv_poll_start is given only
 * the event asked for last.)
 * Errors keep bindings-cpp's meaning (`canceled` when the port was closed, `disconnect` for an unplug).
 * Open, baud rate, DTR/RTS, flush, drain and close stay bindings-cpp's own; other platforms are untouched.
 */
import fs from 'node:fs';
import { SerialPort } from 'serialport';

type Binding = typeof SerialPort.binding;
type PortBinding = Awaited<ReturnType<Binding['open']>>;
/** What LinuxPortBinding/DarwinPortBinding expose beyond the binding interface: the fd and its uv_poll. */
interface UnixPort {
  fd: number | null;
  poller: { once(event: 'readable', fn: (err: Error | null) => void): unknown };
  read: PortBinding['read'];
  write: PortBinding['write'];
  drain: PortBinding['drain'];
}

const RETRY = new Set(['EAGAIN', 'EWOULDBLOCK', 'EINTR']);
/** The codes bindings-cpp reports as an unplugged device. */
const GONE = new Set(['EBADF', 'ENXIO', 'UNKNOWN']);

const isUnixPort = (p: unknown): p is UnixPort =>
  typeof p === 'object' && p !== null && 'fd' in p && typeof (p as UnixPort).fd === 'number' && 'poller' in p;

const notOpen = (canceled: boolean) => Object.assign(new Error('Port is not open'), { canceled });

function failure(e: unknown): Error {
  const err = e as NodeJS.ErrnoException & { disconnect?: boolean };
  if (GONE.has(err.code ?? '') || err.errno === -1) err.disconnect = true;
  return err;
}

const readable = (port: UnixPort) =>
  new Promise<void>((resolve, reject) => { port.poller.once('readable', (err) => (err ? reject(err) : resolve())); });

function directRead(port: UnixPort): UnixPort['read'] {
  return async (buffer, offset, length) => {
    for (;;) {
      await readable(port);
      if (port.fd === null) throw notOpen(true);
      try {
        const bytesRead = fs.readSync(port.fd, buffer, offset, length, null);
        if (bytesRead > 0) return { buffer, bytesRead };
      } catch (e) {
        if (!RETRY.has((e as NodeJS.ErrnoException).code ?? '')) throw failure(e);
      }
    }
  };
}

function directWrite(port: UnixPort): { write: UnixPort['write']; drain: UnixPort['drain'] } {
  let pending: Promise<void> = Promise.resolve();
  const viaLibrary = port.write.bind(port);
  const writeAll = async (buffer: Buffer): Promise<void> => {
    for (let offset = 0; offset < buffer.length;) {
      if (port.fd === null) throw notOpen(false);
      try {
        offset += fs.writeSync(port.fd, buffer, offset);
      } catch (e) {
        if (!RETRY.has((e as NodeJS.ErrnoException).code ?? '')) throw failure(e);
        // The port's buffer is full (rare: lines go out only as oks free room): the rest the library's way.
        return viaLibrary(buffer.subarray(offset));
      }
    }
  };
  const drain = port.drain.bind(port);
  return {
    write: (buffer) => { pending = writeAll(buffer); return pending; },
    // tcdrain only covers bytes the kernel has: a write still waiting for room goes first.
    drain: async () => { await pending.catch(() => undefined); return drain(); },
  };
}

const detected = SerialPort.binding;
const openPort = detected.open.bind(detected) as (options: unknown) => Promise<unknown>;

/** The platform's binding, with direct reads and writes on every port it opens on Linux and macOS. */
export const directBinding = {
  ...detected,
  list: () => detected.list(),
  async open(options: unknown) {
    const port = await openPort(options);
    if (isUnixPort(port)) Object.assign(port, { read: directRead(port), ...directWrite(port) });
    return port;
  },
} as Binding;
