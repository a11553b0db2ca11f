/** printbox-printer settings (CONTRACT.md "Configuration"); read only by main.ts. */
import { commonSchema, int, intList, list, type Schema } from '../shared/config.ts';

export const printerSchema = {
  ...commonSchema,
  virtualPrinters: int('PRINTBOX_VIRTUAL_PRINTERS', 0, 'number of simulated printers (npm start sets 1)', 0, 8),
  serialPorts: list('PRINTBOX_SERIAL_PORTS', [], 'extra port paths or globs treated as printer candidates'),
  baudrates: intList('PRINTBOX_BAUDRATES', [250000, 115200], 'baud rates tried in order when probing'),
} satisfies Schema;
