/**
 * Host allow-list against DNS rebinding (CONTRACT.md): a page on evil.example that rebinds its name
 * to this device's address still sends `Host: evil.example`, so only the device's own names and
 * addresses are served. Addresses are re-read every few seconds because DHCP can change them.
 */
import type { NetworkInterfaceInfo } from 'node:os';

export interface HostCheckDeps {
  hostname: () => string;
  interfaces: () => NodeJS.Dict<NetworkInterfaceInfo[]>;
  now?: () => number;
}

export interface HostCheck {
  /** True when the Host header (with or without port) names this device. */
  allowed(hostHeader: string | undefined): boolean;
  /** The names and addresses currently accepted (for the TLS cert's SANs and for logs). */
  names(): { dns: string[]; ips: string[] };
}

/** "Example.local.:8443" → "example.local"; "[::1]:443" → "::1"; undefined when malformed. */
export function parseHost(header: string): string | undefined {
  const h = header.trim().toLowerCase();
  const m = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(h) ?? /^([a-z0-9.-]+)(?::\d{1,5})?$/.exec(h);
  if (!m) return undefined;
  const name = m[1]!.replace(/\.$/, '');
  return name || undefined;
}

export function createHostCheck(deps: HostCheckDeps): HostCheck {
  const now = deps.now ?? Date.now;
  let cache: { at: number; dns: string[]; ips: string[]; set: Set<string> } | undefined;
  const current = () => {
    if (cache && now() - cache.at < 5000) return cache;
    const host = deps.hostname().toLowerCase().replace(/\.$/, '');
    const short = host.split('.')[0]!;
    const dns = [...new Set([host, short, `${short}.local`, 'localhost'])].filter(Boolean);
    const ips = new Set(['127.0.0.1', '::1']);
    for (const list of Object.values(deps.interfaces())) {
      for (const a of list ?? []) ips.add(a.address.replace(/%.*$/, '').toLowerCase());
    }
    cache = { at: now(), dns, ips: [...ips], set: new Set([...dns, ...ips]) };
    return cache;
  };
  return {
    allowed(header) {
      if (!header) return false;
      const name = parseHost(header);
      if (!name) return false;
      return current().set.has(name);
    },
    names: () => { const c = current(); return { dns: c.dns, ips: c.ips }; },
  };
}
