import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../local/shared/moto-server';

/** Stops the moto server, whether the tests passed or failed. */
export default async function globalTeardown(): Promise<void> {
  const moto = (globalThis as { __moto?: { stop(): Promise<void> } }).__moto;
  if (moto) {
    await moto.stop();
  } else {
    const pidFile = join(repoRoot, '.cache', 'moto.pid');
    try {
      process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGTERM');
    } catch {
      // already gone
    }
  }
  rmSync(join(repoRoot, '.cache', 'moto.pid'), { force: true });
}
