/**
 * sd_notify for Type=notify units. Node has no AF_UNIX datagram sockets, so we use the
 * systemd-notify binary with --pid pointing at this process (units set NotifyAccess=all).
 * Outside systemd (no NOTIFY_SOCKET) every call is a no-op.
 */
import { execFile } from 'node:child_process';

export interface Notifier {
  ready(status?: string): void;
  status(text: string): void;
  stopping(): void;
  /** Starts WATCHDOG=1 pings at half the unit's WatchdogSec; returns a stop function. */
  startWatchdog(): () => void;
}

export function createNotifier(env: Record<string, string | undefined>): Notifier {
  const socket = env.NOTIFY_SOCKET;
  const send = (...assignments: string[]) => {
    if (!socket) return;
    execFile('systemd-notify', [`--pid=${process.pid}`, ...assignments], { env: { NOTIFY_SOCKET: socket } }, () => undefined);
  };
  return {
    ready: (status) => send('READY=1', ...(status ? [`STATUS=${status}`] : [])),
    status: (text) => send(`STATUS=${text}`),
    stopping: () => send('STOPPING=1'),
    startWatchdog: () => {
      const usec = Number(env.WATCHDOG_USEC);
      if (!socket || !usec) return () => undefined;
      const t = setInterval(() => send('WATCHDOG=1'), Math.max(1000, usec / 2000));
      t.unref();
      return () => clearInterval(t);
    },
  };
}

/**
 * Sockets passed by systemd socket activation (sd_listen_fds): the first is fd 3. Returns [] when this
 * process was not socket-activated, so callers fall back to binding their own path (dev, tests).
 */
export function listenFds(env: Record<string, string | undefined>, pid = process.pid): number[] {
  if (Number(env.LISTEN_PID) !== pid) return [];
  const n = Number(env.LISTEN_FDS);
  return Number.isInteger(n) && n > 0 ? Array.from({ length: n }, (_, i) => 3 + i) : [];
}
