import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** Another sandbox runs on the same state folder. */
export class StateLockedError extends Error {
  constructor(
    readonly pid: number,
    readonly stateDir: string,
  ) {
    super(
      `another sandbox (PID ${pid}) is running on ${stateDir}; stop it first (Ctrl-C in its terminal, or kill ${pid}), or start this one with another --state-dir`,
    );
  }
}

/** True when a process with this ID runs (and may be signalled by us, or exists under another user). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the state folder's lock, `sandbox.lock`, holding this process's PID, before anything in the
 * folder is read or written. The file is created exclusively, so of two starts at once only one wins; a
 * lock left by a process that is gone (a crash, a power cut) is taken over. Returns the release.
 */
export function acquireStateLock(stateDir: string, pid = process.pid): { path: string; release(): void } {
  const path = join(stateDir, 'sandbox.lock');
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, `${pid}\n`);
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
      let holder = Number.NaN;
      try {
        holder = Number.parseInt(readFileSync(path, 'utf8'), 10);
      } catch {
        // removed meanwhile: try again
      }
      if (Number.isInteger(holder) && holder !== pid && isRunning(holder)) {
        throw new StateLockedError(holder, stateDir);
      }
      // Stale (its process is gone) or unreadable: take it over.
      rmSync(path, { force: true });
    }
  }
  return {
    path,
    release: () => {
      try {
        if (Number.parseInt(readFileSync(path, 'utf8'), 10) === pid) rmSync(path, { force: true });
      } catch {
        // already gone
      }
    },
  };
}
