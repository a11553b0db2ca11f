/**
 * What differs between the firmwares the transcript tests speak for: boot banner, M115, how an `ok`, a
 * resend request, a temperature report and a halt look. Each entry names the upstream source it follows.
 */

export interface Heaters { T: { actual: number; target: number }; B: { actual: number; target: number } }

export interface Flavour {
  name: string;
  /** Printed after a reset, once the bootloader is done. Empty: native USB, the port opening resets nothing. */
  banner: string[];
  resetOnOpen: boolean;
  /** M115's reply lines (before its ok). */
  m115: (o: { advancedOk: boolean; autoreport: boolean }) => string[];
  /** The line(s) of a resend request for line n (after the error line, if any). */
  resend: (n: number) => string[];
  /** A line error is announced with `Error:<why>` first (Marlin, Prusa) or not at all (Smoothieware). */
  errorLine: boolean;
  /** M105's answer: `ok` + the report (Marlin prints it instead of the usual ok). */
  m105: (h: Heaters) => string;
  /** What kill() prints (M112, or after a thermal error). */
  killed: string;
  /** Prusa echoes every command it queues from the host (`echo:enqueing "…"`, sic, Prusa-Firmware cmdqueue.cpp). */
  enqueueEcho?: (cmd: string) => string;
  /** Printed every second while M109/M190 waits (Prusa: `T:… E:0 W:?`, Marlin 1.1: `T:… W:?`). */
  heatingReport?: (h: Heaters) => string;
}

const t = (h: Heaters['T']) => `${h.actual.toFixed(2)} /${h.target.toFixed(2)}`;

/** Marlin/src/module/temperature.cpp print_heater_states: ` T:… /… B:… /… @:0 B@:0`. */
const marlinTemps = (h: Heaters) => `T:${t(h.T)} B:${t(h.B)} @:0 B@:0`;

/** Marlin 2.1.x: queue.cpp flush_and_request_resend prints `Resend: N` and then `ok`. */
export const marlin2: Flavour = {
  name: 'Marlin 2.1.2.1',
  banner: ['start', 'echo:Marlin 2.1.2.1', 'echo: Last Updated: 2023-07-13 | Author: (none, default config)', 'echo:Compiled: Jul 13 2023'],
  resetOnOpen: true,
  // Marlin/src/gcode/host/M115.cpp with EXTENDED_CAPABILITIES_REPORT.
  m115: (o) => [
    'FIRMWARE_NAME:Marlin 2.1.2.1 (Jul 13 2023 12:00:00) SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin PROTOCOL_VERSION:1.0 MACHINE_TYPE:Ender-3 V2 EXTRUDER_COUNT:1 UUID:cede2a2f-41a2-4748-9b12-c55c62f367ff',
    'Cap:SERIAL_XON_XOFF:0', 'Cap:BINARY_FILE_TRANSFER:0', 'Cap:EEPROM:1', `Cap:AUTOREPORT_TEMP:${o.autoreport ? 1 : 0}`,
    'Cap:PROGRESS:0', 'Cap:PRINT_JOB:1', 'Cap:AUTOLEVEL:0', 'Cap:Z_PROBE:0', 'Cap:LEVELING_DATA:0', 'Cap:SOFTWARE_POWER:0',
    'Cap:TOGGLE_LIGHTS:0', 'Cap:CASE_LIGHT_BRIGHTNESS:0', 'Cap:EMERGENCY_PARSER:0', `Cap:ADVANCED_OK:${o.advancedOk ? 1 : 0}`,
    'Cap:HOST_ACTION_COMMANDS:0', 'Cap:PROMPT_SUPPORT:0', 'Cap:SDCARD:1', 'Cap:AUTOREPORT_POS:0', 'Cap:THERMAL_PROTECTION:1',
  ],
  resend: (n) => [`Resend: ${n}`, 'ok'],
  errorLine: true,
  m105: (h) => `ok ${marlinTemps(h)}`,
  killed: 'Error:Printer halted. kill() called!',
};

/**
 * Marlin 1.1.9 as Creality shipped it on Ender-3/CR-10 (Melzi/Creality 1.1.x boards, CH340): the port opening
 * resets the ATmega; the bootloader takes ~1.5 s and then `start`. No EXTENDED_CAPABILITIES_REPORT, so no Cap:
 * lines. Marlin_main.cpp FlushSerialRequestResend: `Resend: N` then ok_to_send().
 */
export const marlin1Creality: Flavour = {
  name: 'Marlin 1.1.9 (Creality)',
  banner: ['start', 'echo:Marlin 1.1.9', 'echo: Last Updated: 2018-08-01 | Author: (Creality3D)', 'Compiled: Aug 29 2018',
    'echo: Free Memory: 1975  PlannerBufferBytes: 1232', 'echo:SD init fail'],
  resetOnOpen: true,
  m115: () => ['FIRMWARE_NAME:Marlin 1.1.9 (Github) SOURCE_CODE_URL:https://github.com/MarlinFirmware/Marlin PROTOCOL_VERSION:1.0 MACHINE_TYPE:Ender-3 EXTRUDER_COUNT:1 UUID:cede2a2f-41a2-4748-9b12-c55c62f367ff'],
  resend: (n) => [`Resend: ${n}`, 'ok'],
  errorLine: true,
  m105: (h) => `ok ${marlinTemps(h)}`,
  killed: 'Error:Printer halted. kill() called!',
  heatingReport: (h) => `T:${h.T.actual.toFixed(1)} E:0 W:?`,
};

/**
 * Prusa-Firmware 3.13 (MK3/MK3S, Einsy, native ATmega2560 + 16U2 USB-serial that still resets on open):
 * Marlin 1.x lineage. cmdqueue.cpp echoes `echo:enqueing "…"` for queued commands; the M105 ok carries the
 * report with T0, P (PINDA) and A (ambient); kill() prints `Error:Printer halted. kill() called!`.
 */
export const prusaMk3: Flavour = {
  name: 'Prusa-Firmware 3.13.2',
  banner: ['start', 'echo: 3.13.2-7080', 'echo: Last Updated: Nov 21 2023 13:46:00 | Author: (none, default config)', 'Compiled: Nov 21 2023',
    'echo: Free Memory: 2165  PlannerBufferBytes: 1760', 'echo:Stored settings retrieved', 'CrashDetect ENABLED!'],
  resetOnOpen: true,
  m115: () => ['FIRMWARE_NAME:Prusa-Firmware 3.13.2 based on Marlin FIRMWARE_URL:https://github.com/prusa3d/Prusa-Firmware PROTOCOL_VERSION:1.0 MACHINE_TYPE:Prusa i3 MK3S EXTRUDER_COUNT:1 UUID:00000000-0000-0000-0000-000000000000',
    'Cap:AUTOREPORT_TEMP:1', 'Cap:AUTOREPORT_FANS:1', 'Cap:AUTOREPORT_POSITION:1', 'Cap:EXTENDED_M20:1', 'Cap:PRUSA_MMU2:1'],
  resend: (n) => [`Resend: ${n}`, 'ok'],
  errorLine: true,
  m105: (h) => `ok T:${h.T.actual.toFixed(1)} /${h.T.target.toFixed(1)} B:${h.B.actual.toFixed(1)} /${h.B.target.toFixed(1)} T0:${h.T.actual.toFixed(1)} /${h.T.target.toFixed(1)} @:0 B@:0 P:0.0 A:26.4`,
  killed: 'Error:Printer halted. kill() called!',
  enqueueEcho: (cmd) => `echo:enqueing "${cmd}"`,
  heatingReport: (h) => `T:${h.T.actual.toFixed(1)} E:0 W:?`,
};

/**
 * RepRapFirmware 3.4 on a Duet 2 (native USB, no reset on open) in its default Marlin-compatible USB mode:
 * plain `ok` per command, M105 answered `ok T:…`, M115 with a space after the colon (src/GCodes/GCodes2.cpp).
 */
export const rrf: Flavour = {
  name: 'RepRapFirmware 3.4.5',
  banner: [],
  resetOnOpen: false,
  m115: () => ['FIRMWARE_NAME: RepRapFirmware for Duet 2 WiFi/Ethernet FIRMWARE_VERSION: 3.4.5 ELECTRONICS: Duet WiFi 1.02 or later FIRMWARE_DATE: 2022-11-30 19:36:12'],
  resend: (n) => [`Resend: ${n}`, 'ok'],
  errorLine: true,
  m105: (h) => `ok T:${h.T.actual.toFixed(1)} /${h.T.target.toFixed(1)} B:${h.B.actual.toFixed(1)} /${h.B.target.toFixed(1)}`,
  killed: 'Error: Emergency stop, attemping to reconnect',
};

/**
 * Smoothieware (LPC1769, native USB): src/modules/communication/GcodeDispatch.cpp answers a bad line with
 * `rs N<n>` and no ok; M105 `ok T:… /… @0 B:… /… @0`; a halt prints `!!`.
 */
export const smoothie: Flavour = {
  name: 'Smoothieware edge',
  banner: [],
  resetOnOpen: false,
  m115: () => ['FIRMWARE_NAME:Smoothieware, FIRMWARE_URL:http%3A//smoothieware.org, X-SOURCE_CODE_URL:https://github.com/Smoothieware/Smoothieware, FIRMWARE_VERSION:edge-3332442, X-FIRMWARE_BUILD_DATE:Nov 29 2019 10:12:21, X-SYSTEM_CLOCK:100MHz, X-AXES:5, X-GRBL_MODE:0, X-ARCS:1'],
  resend: (n) => [`rs N${n}`],
  errorLine: false,
  m105: (h) => `ok T:${h.T.actual.toFixed(1)} /${h.T.target.toFixed(1)} @0 B:${h.B.actual.toFixed(1)} /${h.B.target.toFixed(1)} @0`,
  killed: '!!',
};
