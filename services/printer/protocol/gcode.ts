/**
 * G-code on the wire: Marlin's XOR checksum, numbered-line framing (`N<n> <cmd>*<cs>`), text ↔ bytes.
 * What a command is (comments, validity, command word, arguments) is in services/shared/gcode.ts.
 *
 * Lines are handled as byte strings (latin1: one char per byte), as read from files and written to the
 * port: Marlin checksums and buffers bytes, so the checksum and the RX-byte window must count bytes.
 * Text that arrives as Unicode (a terminal command, `M117 Drucke Würfel`) goes through toWire() first.
 */

export function checksum(s: string): number {
  let cs = 0;
  for (let i = 0; i < s.length; i++) cs ^= s.charCodeAt(i);
  return cs & 0xff;
}

/** The exact bytes sent for line n (newline included). */
export function numbered(n: number, cmd: string): string {
  const body = `N${n} ${cmd}`;
  return `${body}*${checksum(body)}\n`;
}

/** Parses `N<n> <cmd>*<cs>`; null when the checksum is absent or wrong (what the firmware checks). */
export function parseNumbered(line: string): { n: number; cmd: string } | null {
  const m = /^N(-?\d+) ?(.*)\*(\d+)$/.exec(line);
  if (!m) return null;
  const body = line.slice(0, line.lastIndexOf('*'));
  if (checksum(body) !== Number(m[3])) return null;
  return { n: Number(m[1]), cmd: m[2]!.trim() };
}

/** Unicode text → the byte string of its UTF-8 encoding (what goes on the wire). */
export const toWire = (text: string): string => Buffer.from(text, 'utf8').toString('latin1');

/** A byte string from a file or the port → text for people: UTF-8 when it is valid UTF-8, else as it is. */
export function fromWire(bytes: string): string {
  if (!/[\x80-\xff]/.test(bytes)) return bytes;
  try { return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(bytes, 'latin1')); } catch { return bytes; }
}
