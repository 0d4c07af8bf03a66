import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const BIN = join(__dirname, '..', '..', 'bin', 'sg-warden.js');

/** Runs the real `sg-warden` executable; returns exit code, stdout and stderr. */
export function runCli(
  args: string[],
  options: { input?: string | Buffer; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): { code: number; stdout: string; stderr: string } {
  const out = spawnSync(process.execPath, [BIN, ...args], {
    input: typeof options.input === 'string' ? Buffer.from(options.input) : options.input,
    env: { ...process.env, ...options.env },
    ...(options.cwd ? { cwd: options.cwd } : {}),
    timeout: 60_000,
  });
  return { code: out.status ?? -1, stdout: out.stdout.toString('utf8'), stderr: out.stderr.toString('utf8') };
}
