/**
 * Request values the printer-control routes share (PrintBox's /api/printers/:id/control and OctoPrint's
 * printhead/tool/bed routes): what counts as a number G-code can carry, and how it is written into G-code.
 */

/**
 * A number G-code can carry as plain decimals. Values beyond a million would need exponent notation no
 * firmware reads.
 */
export const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && Math.abs(v) < 1e6;

/** As Python prints it in the G-code (`X10`, `E-2.5`), never with an exponent. */
export const num = (v: number): string => (Number.isInteger(v) ? String(v) : String(Number(v.toFixed(5))));

export const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
