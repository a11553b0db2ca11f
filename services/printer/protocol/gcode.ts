/**
 * G-code line helpers shared by the sender, the job reader, the file store and the simulator:
 * comment stripping, Marlin's XOR checksum, numbered-line framing (`N<n> <cmd>*<cs>`).
 *
 * Lines are handled as byte strings (latin1: one char per byte), as read from files and written to the
 * port: Marlin checksums and buffers bytes, so the checksum and the RX-byte window must count bytes.
 * Text that arrives as Unicode (a terminal command, `M117 Drucke Würfel`) goes through toWire() first.
 */

/** Marlin's MAX_CMD_SIZE is 96 including N/checksum; commands longer than this are refused on upload. */
export const MAX_COMMAND_LENGTH = 80;

/** Removes `;` comments and surrounding whitespace. Returns '' for blank/comment-only lines. */
export function stripComment(line: string): string {
  const i = line.indexOf(';');
  return (i >= 0 ? line.slice(0, i) : line).trim();
}

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

/**
 * Why a command line (a byte string) is not acceptable G-code, or null. Used for uploads (web → 400) and
 * terminal commands. Bytes above 0x7F pass: slicers write object names and M117 messages in UTF-8
 * (`M486 A"Würfel"`), and Marlin takes them as bytes like any other.
 */
export function commandProblem(cmd: string): string | null {
  if (cmd.length > MAX_COMMAND_LENGTH) return `command longer than ${MAX_COMMAND_LENGTH} bytes`;
  // Control characters would corrupt framing; '*' would be taken as a checksum by the firmware.
  if (/[\x00-\x08\x0a-\x1f\x7f*]/.test(cmd)) return 'control character or "*" in command';
  if (!/^[A-Za-z]/.test(cmd)) return 'command does not start with a letter';
  if (/[^\x00-\xff]/.test(cmd)) throw new Error('commandProblem() takes a byte string: toWire() first');
  return null;
}

/** The command word, upper-cased: "G1", "M105", "T0". */
export const commandWord = (cmd: string): string => (/^([A-Za-z]\d*)/.exec(cmd)?.[1] ?? '').toUpperCase();

/** Numeric argument of a letter (`X12.5`), or undefined. */
export function arg(cmd: string, letter: string): number | undefined {
  const m = new RegExp(`[ \\t]?${letter}(-?[0-9.]+)`, 'i').exec(cmd.slice(commandWord(cmd).length));
  return m ? Number(m[1]) : undefined;
}
