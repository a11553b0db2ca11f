/** Process figures read from /proc for the benchmarks (Linux only, as is the appliance). */
import fs from 'node:fs';

/** CPU seconds `pid` has used (utime + stime; /proc counts in USER_HZ, 100 on Linux). */
export function cpuSeconds(pid: number): number {
  // Fields after "(comm)", which may itself contain spaces: state is [0], utime [11], stime [12].
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** VmRSS of `pid` in bytes. */
export function rss(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}
