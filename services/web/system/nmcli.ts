/**
 * nmcli's terse output (`-t`), parsed. In its tabular form nmcli escapes ':' and '\' inside values with a
 * backslash, so an SSID like "a:b" stays one field.
 */

/** "a\:b:c\\d" → ["a:b", "c\d"]. */
export function splitTerse(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === '\\' && i + 1 < line.length) { cur += line[++i]; continue; }
    if (ch === ':') { out.push(cur); cur = ''; continue; }
    cur += ch;
  }
  out.push(cur);
  return out;
}

/** Rows of `nmcli -t -f A,B,C …`, each as a record of the requested fields. */
export function parseRows<K extends string>(out: string, fields: readonly K[]): Record<K, string>[] {
  return out.split('\n').filter((l) => l.length > 0).map((l) => {
    const parts = splitTerse(l);
    return Object.fromEntries(fields.map((f, i) => [f, parts[i] ?? ''])) as Record<K, string>;
  });
}

/**
 * `nmcli -t -f … device show`: "GENERAL.DEVICE:eth0" lines, one block per device (blank line between);
 * multi-valued fields come as "IP4.ADDRESS[1]:…", "IP4.ADDRESS[2]:…". This multiline form is not escaped
 * (a MAC address comes as "52:54:…"), so each line splits at its first ':' only.
 */
export function parseBlocks(out: string): Map<string, string[]>[] {
  const blocks: Map<string, string[]>[] = [];
  let cur: Map<string, string[]> | null = null;
  for (const line of out.split('\n')) {
    const at = line.indexOf(':');
    if (!line.trim() || at < 0) { cur = null; continue; }
    const key = line.slice(0, at).replace(/\[\d+\]$/, '');
    if (key === 'GENERAL.DEVICE' || !cur) { cur = new Map(); blocks.push(cur); }
    const value = line.slice(at + 1);
    if (value === '' || value === '--') continue;
    cur.set(key, [...(cur.get(key) ?? []), value]);
  }
  return blocks;
}

export interface WifiNetwork {
  ssid: string;
  /** 0–100 as NetworkManager reports it; the strongest access point of that SSID. */
  signal: number;
  /** "WPA2", "WPA1 WPA2", "WPA3", "" for an open network … */
  security: string;
  inUse: boolean;
}

/** `nmcli -t -f IN-USE,SSID,SIGNAL,SECURITY device wifi list`: one entry per SSID, hidden networks left out. */
export function parseScan(out: string): WifiNetwork[] {
  const bySsid = new Map<string, WifiNetwork>();
  for (const r of parseRows(out, ['IN-USE', 'SSID', 'SIGNAL', 'SECURITY'] as const)) {
    if (!r.SSID) continue;
    const signal = Number(r.SIGNAL) || 0;
    const security = r.SECURITY === '--' ? '' : r.SECURITY;
    const prev = bySsid.get(r.SSID);
    const inUse = r['IN-USE'] === '*' || (prev?.inUse ?? false);
    if (!prev || signal > prev.signal) bySsid.set(r.SSID, { ssid: r.SSID, signal, security, inUse });
    else prev.inUse = inUse;
  }
  return [...bySsid.values()].sort((a, b) => Number(b.inUse) - Number(a.inUse) || b.signal - a.signal || a.ssid.localeCompare(b.ssid));
}
