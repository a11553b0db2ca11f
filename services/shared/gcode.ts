/**
 * The G-code command language, as the file store (uploads), the job reader, the terminal and the
 * simulator read it: comments, what makes a command acceptable, the command word and its arguments.
 * How lines are framed on the wire (line numbers, checksums, bytes) is the printer's protocol
 * (services/printer/protocol/gcode.ts). No Node imports.
 */

/** Marlin's MAX_CMD_SIZE is 96 including N/checksum; commands longer than this are refused on upload. */
export const MAX_COMMAND_LENGTH = 80;

/** Removes `;` comments and surrounding whitespace. Returns '' for blank/comment-only lines. */
export function stripComment(line: string): string {
  const i = line.indexOf(';');
  return (i >= 0 ? line.slice(0, i) : line).trim();
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

/** Built once per letter: every acknowledged job line asks for up to six (resume point, filament). No `g` flag, so no state. */
const argPatterns = new Map<string, RegExp>();

/** Numeric argument of a letter (`X12.5`), or undefined. */
export function arg(cmd: string, letter: string): number | undefined {
  let re = argPatterns.get(letter);
  if (!re) argPatterns.set(letter, (re = new RegExp(`[ \\t]?${letter}(-?[0-9.]+)`, 'i')));
  const m = re.exec(cmd.slice(commandWord(cmd).length));
  return m ? Number(m[1]) : undefined;
}
