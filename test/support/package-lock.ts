import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

const LOCK = join(__dirname, '..', '..', '.cache', 'serverless-package.lock');
const STALE_MS = 5 * 60_000;

/**
 * Runs `fn` while no other test file packages the deploy: `serverless package` builds in the service's
 * own folders (serverless-esbuild's .esbuild/), so two at once (jest runs two files in parallel) break
 * each other's bundles.
 */
export function withPackageLock<T>(fn: () => T): T {
  mkdirSync(join(LOCK, '..'), { recursive: true });
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      // A lock left by a killed run is taken over once it is older than any package could take.
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > STALE_MS) rmSync(LOCK, { recursive: true, force: true });
      } catch {
        // gone meanwhile
      }
      if (Date.now() > deadline) throw new Error(`${LOCK} held for 10 minutes: is another package stuck?`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}
