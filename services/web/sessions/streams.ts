/**
 * Open event streams by the credential that opened them (a session id or an API key id), so that
 * ending the credential ends its streams at once: the store's onDestroy calls endSession, key
 * revocation calls endKey. The bindings that register streams and re-check them are in bind-streams.ts.
 */
export interface SessionStreams {
  /** Registers an open stream of session `sid`; `end` closes it. Returns the unregister function. */
  add(sid: string, end: () => void): () => void;
  /** Ends every open stream of a session that was destroyed; returns how many. */
  endSession(sid: string): number;
  /** Registers an open stream opened with API key `id`; returns the unregister function. */
  addKey(id: number, end: () => void): () => void;
  /** Ends every open stream of a key that was revoked; returns how many. */
  endKey(id: number): number;
  readonly size: number;
}

/** Open streams grouped by the credential that opened them. */
function registry<K>() {
  const byKey = new Map<K, Set<() => void>>();
  return {
    add(k: K, end: () => void): () => void {
      let set = byKey.get(k);
      if (!set) byKey.set(k, (set = new Set()));
      set.add(end);
      return () => {
        set.delete(end);
        if (set.size === 0 && byKey.get(k) === set) byKey.delete(k);
      };
    },
    end(k: K): number {
      const set = byKey.get(k);
      if (!set) return 0;
      byKey.delete(k);
      const ends = [...set];
      for (const end of ends) end();
      return ends.length;
    },
    get size() { let n = 0; for (const s of byKey.values()) n += s.size; return n; },
  };
}

export function createSessionStreams(): SessionStreams {
  const sessions = registry<string>();
  const keys = registry<number>();
  return {
    add: (sid, end) => sessions.add(sid, end),
    endSession: (sid) => sessions.end(sid),
    addKey: (id, end) => keys.add(id, end),
    endKey: (id) => keys.end(id),
    get size() { return sessions.size + keys.size; },
  };
}
