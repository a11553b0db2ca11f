/**
 * What the sender must know of the firmware on the other side: how long a line it reads, which commands may
 * take minutes to answer, and how it says a line arrived out of sequence.
 */

/** Marlin's/Prusa's MAX_CMD_SIZE: past 95 characters the rest of a line (its `*checksum` too) is dropped, so it
 *  is rejected forever. Uploads refuse commands over 80 bytes (shared/gcode.ts); this stops files that got in otherwise. */
export const MAX_WIRE_LINE = 96;

/**
 * Commands whose ok may legitimately take minutes: homing, probing/levelling, heating waits, PID tuning,
 * dwell, waiting for moves or the user. OctoPrint's "long running commands" list plus the heat waits.
 */
export const LONG_RUNNING = new Set(['G4', 'G28', 'G29', 'G30', 'G32', 'G33', 'G34', 'G35', 'G76', 'M109', 'M190', 'M191', 'M116', 'M303', 'M400', 'M600', 'M226', 'M0', 'M1']);
/** Marlin's answer to a line that arrived out of sequence (and Repetier's): the duplicates after a rewind. */
export const SEQUENCE_ERROR = /line ?number is not|expected line/i;
/** Confirmed lines a resend request may still take back: more than BUFSIZE duplicated oks in a row is a reset. */
export const UNCONFIRM_MAX = 8;
