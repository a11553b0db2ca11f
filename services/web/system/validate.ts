/**
 * Input checks for the device-administration routes, each problem a 400 with its own code so the UI
 * can say what is wrong before anything reaches NetworkManager or systemd.
 */
import { badRequest } from '../../shared/errors.ts';

/**
 * One DNS label (RFC 1123): the device is reached as <name>.local through avahi, and a dotted static
 * hostname would make that name ambiguous. Upper case is folded, as mDNS compares names case-insensitively.
 */
export function parseHostname(raw: unknown): string {
  if (typeof raw !== 'string') throw badRequest('invalid_hostname', 'hostname must be a string');
  const name = raw.trim().toLowerCase();
  if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(name)) {
    throw badRequest('invalid_hostname', 'hostname must be 1-63 letters, digits or "-", not starting or ending with "-" (no dots, spaces or accents)');
  }
  if (name === 'localhost') throw badRequest('invalid_hostname', '"localhost" names every machine, not this one');
  return name;
}

/** Shape only; the route then checks the name against `timedatectl list-timezones`. */
export function parseTimezone(raw: unknown): string {
  if (typeof raw !== 'string' || raw.length > 64 || !/^[A-Za-z0-9_+-]+(?:\/[A-Za-z0-9_+-]+){0,2}$/.test(raw)) {
    throw badRequest('invalid_timezone', 'timezone must be an IANA name such as "Europe/Berlin" or "UTC"');
  }
  return raw;
}

export interface WifiJoin { ssid: string; psk: string; hidden: boolean }

/**
 * An SSID is 1-32 bytes (IEEE 802.11); a WPA passphrase 8-63 printable ASCII characters or a 64-digit
 * hex key (IEEE 802.11i, annex H); an empty one joins an open network.
 */
export function parseWifiJoin(body: unknown): WifiJoin {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const errors: string[] = [];
  const ssid = b.ssid;
  if (typeof ssid !== 'string' || ssid.length === 0) errors.push('ssid is required');
  else if (Buffer.byteLength(ssid, 'utf8') > 32) errors.push('ssid is longer than 32 bytes');
  else if (/[\u0000-\u001f\u007f]/.test(ssid)) errors.push('ssid contains control characters');
  const psk = b.psk ?? '';
  if (typeof psk !== 'string') errors.push('psk must be a string');
  else if (psk !== '' && !/^[\x20-\x7e]{8,63}$/.test(psk) && !/^[0-9a-fA-F]{64}$/.test(psk)) {
    errors.push('psk must be 8-63 printable ASCII characters or 64 hex digits (empty for an open network)');
  }
  if (b.hidden !== undefined && typeof b.hidden !== 'boolean') errors.push('hidden must be true or false');
  if (errors.length) throw badRequest('invalid_wifi', errors.join('; '), { errors });
  return { ssid: ssid as string, psk: psk as string, hidden: b.hidden === true };
}

/** A connection profile's UUID as NetworkManager writes it; anything else never reaches nmcli. */
export function parseUuid(raw: unknown): string {
  if (typeof raw !== 'string' || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(raw)) {
    throw badRequest('invalid_connection', 'connection must be a UUID from the list of saved networks');
  }
  return raw.toLowerCase();
}

/** `force` skips the running-print guard of reboot and power-off; only a literal true counts. */
export function parseForce(body: unknown): boolean {
  const f = (typeof body === 'object' && body !== null ? (body as Record<string, unknown>).force : undefined);
  if (f !== undefined && typeof f !== 'boolean') throw badRequest('invalid_force', 'force must be true or false');
  return f === true;
}
