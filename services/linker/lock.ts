/**
 * One printbox-firstboot at a time (the unit plus a manual run would link twice and race on the
 * file). A pid file taken with O_EXCL; a lock whose pid is gone — a power cut or kill -9 — is stale
 * and taken over, so a crash never blocks the next boot.
 */
import fs from 'node:fs';

const alive = (pid: number) => {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
};

/** Returns a release function, or the pid of the running holder. */
export function takeLock(file: string): { release: () => void } | { heldBy: number } {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o644 });
      return { release: () => { try { fs.unlinkSync(file); } catch { /* gone */ } } };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(fs.readFileSync(file, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) return { heldBy: pid };
      fs.rmSync(file, { force: true }); // stale
    }
  }
  return { heldBy: -1 };
}
