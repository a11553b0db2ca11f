/** printbox-printer settings (CONTRACT.md "Configuration"); read only by main.ts. */
import { commonSchema, int, intList, list, type Schema } from '../shared/config.ts';

export const printerSchema = {
  ...commonSchema,
  virtualPrinters: int('PRINTBOX_VIRTUAL_PRINTERS', 0, 'number of simulated printers (npm start sets 1)', 0, 8),
  serialPorts: list('PRINTBOX_SERIAL_PORTS', [], 'extra port paths or globs treated as printer candidates'),
  // 115200 first: the rate of most printers sold (Prusa, Creality, Anycubic); 250000 is the other common one.
  baudrates: intList('PRINTBOX_BAUDRATES', [115200, 250000], 'baud rates tried in order when probing'),
  // Opening the port resets a CH340/AVR board: bootloader plus firmware start (SD card, EEPROM) can take several seconds.
  probeTimeoutMs: int('PRINTBOX_PROBE_TIMEOUT_MS', 10_000, 'how long each baud rate is given to answer when probing (ms)', 1000, 120_000),
  // A finished job is a few hundred bytes: 1000 is years of prints on one printer and still a small table.
  jobHistoryMax: int('PRINTBOX_JOB_HISTORY_MAX', 1000, 'finished jobs kept in the print history; the oldest go first', 1, 100_000),
} satisfies Schema;
