/**
 * Bytes layer: opening a serial port. The device logic receives a PortLike so tests and the probe
 * can swap the transport; production uses serialport (the service is the only process doing this).
 */
import { SerialPort } from 'serialport';
import { LineSplitter } from '../protocol/line-splitter.ts';
import { directBinding } from './direct-io.ts';

export interface PortLike {
  write(data: string): void;
  onLine(fn: (line: string) => void): void;
  /** Called once when the port goes away for any reason (unplug → disconnected: true). */
  onClose(fn: (info: { disconnected: boolean; error?: string }) => void): void;
  close(): Promise<void>;
}

export type OpenPort = (path: string, baudRate: number) => Promise<PortLike>;

export const openSerialPort: OpenPort = (path, baudRate) => new Promise((resolve, reject) => {
  // hupcl: dropping DTR on close resets AVR boards, which is what users expect after a disconnect.
  // `binding` is not in SerialPort's option type but it passes it on to SerialPortStream, which takes it:
  // direct-io.ts reads and writes without a thread-pool round trip per line.
  const options = { path, baudRate, autoOpen: false, hupcl: true, binding: directBinding };
  const port = new SerialPort(options);
  port.open((err) => {
    if (err) return reject(err);
    // ASYNC_LOW_LATENCY: ftdi_sio then drops its latency timer from 16 ms to 1 ms, so every `ok` reaches us
    // ~15 ms sooner and the send-ahead window stops being the limit (see README "Benchmarks"). DTR/RTS stay
    // asserted (set() rewrites them with their open-time values), so this does not reset the board. Drivers
    // without the ioctl (CH340, CDC-ACM, ptys) ignore it; bindings-cpp does not report that failure.
    // (SetOptions in bindings-interface lacks the Linux-only field that LinuxBinding.set() reads.)
    port.set({ lowLatency: true } as Parameters<SerialPort['set']>[0], () => undefined);
    const lines = port.pipe(new LineSplitter());
    let closed = false;
    const closers: Array<(i: { disconnected: boolean; error?: string }) => void> = [];
    const fire = (info: { disconnected: boolean; error?: string }) => {
      if (closed) return;
      closed = true;
      closers.forEach((f) => f(info));
    };
    port.on('close', (e?: Error & { disconnected?: boolean }) => fire({ disconnected: !!e?.disconnected, ...(e ? { error: e.message } : {}) }));
    port.on('error', (e) => { fire({ disconnected: true, error: e.message }); if (port.isOpen) port.close(() => undefined); });
    resolve({
      write: (data) => { if (!closed) port.write(data, 'latin1'); },
      onLine: (fn) => lines.on('data', fn),
      onClose: (fn) => closers.push(fn),
      close: () => new Promise((res) => { if (!port.isOpen) { fire({ disconnected: false }); return res(); } port.close(() => { fire({ disconnected: false }); res(); }); }),
    });
  });
});
