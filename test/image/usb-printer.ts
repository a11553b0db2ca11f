/**
 * A printer on the guest's USB port: QEMU's usb-serial (an FTDI FT232, 0403:6001, which the guest's ftdi_sio
 * binds as /dev/ttyUSB0 with a /dev/serial/by-id link) carries the bytes to a Unix socket on the host, and
 * the Marlin simulator the printer service's own tests use answers there. The device sees a USB printer
 * plugged in; nothing of the simulator runs on it (the image has no python3 for a pty bridge, and needs none).
 */
import net from 'node:net';
import { MarlinSimulator } from '../../services/printer/virtual/simulator.ts';

export interface UsbPrinter {
  readonly sim: MarlinSimulator;
  /** Stops reconnecting and closes the simulator. */
  close(): void;
}

/**
 * Connects to QEMU's chardev socket (QEMU is the server, so the socket is made again at each power-on) and
 * keeps connecting: a power cut of the guest is a power cut of the printer's USB link, and the board resets
 * when the link comes back, as a CH340/FTDI board does when its port opens.
 */
export function attachUsbPrinter(socketPath: string): UsbPrinter {
  let socket: net.Socket | undefined;
  let closed = false;
  const sim = new MarlinSimulator({ name: 'QEMU USB Marlin', baud: 0, latencyMs: 2, seed: 7 }, (data) => { if (socket?.writable) socket.write(data, 'latin1'); });
  const connect = () => {
    if (closed) return;
    const s = net.createConnection(socketPath);
    s.on('connect', () => { socket = s; sim.reset(); });
    s.on('data', (d: Buffer) => sim.receive(d));
    s.on('error', () => undefined);
    s.on('close', () => { if (socket === s) socket = undefined; setTimeout(connect, 500); });
  };
  connect();
  return { sim, close: () => { closed = true; socket?.destroy(); sim.close(); } };
}
