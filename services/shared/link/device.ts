/**
 * What the device tells the cloud about itself. The serial must be stable across reboots and
 * reinstalls of the software (the cloud keys devices by it, which makes a repeated link after a
 * power cut idempotent): the Pi's SoC serial, else systemd's machine-id.
 */
import fs from 'node:fs';
import os from 'node:os';
import type { DeviceInfo } from '../cloud-client.ts';

function readSerial(): string {
  try {
    const dt = fs.readFileSync('/proc/device-tree/serial-number', 'utf8').replace(/\0/g, '').trim();
    if (dt) return `rpi-${dt}`;
  } catch { /* not a Pi */ }
  try {
    const m = /^Serial\s*:\s*([0-9a-f]+)$/im.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1] && !/^0+$/.test(m[1])) return `rpi-${m[1]}`;
  } catch { /* no cpuinfo */ }
  try { return `mid-${fs.readFileSync('/etc/machine-id', 'utf8').trim()}`; } catch { return `host-${os.hostname()}`; }
}

export function deviceInfo(version: string, serial?: string): () => DeviceInfo {
  const s = serial ?? readSerial();
  // hostname is read per call: first boot may change it between start and link.
  return () => ({ serial: s, hostname: os.hostname(), version });
}
