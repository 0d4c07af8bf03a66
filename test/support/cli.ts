import { spawn, spawnSync } from 'node:child_process';
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

/**
 * Runs the real `sg-warden` executable without blocking this process, for tests whose AWS answers come from
 * something running in it (the recording/fault proxy of test/support/aws-faults.ts).
 */
export function runCliAsync(
  args: string[],
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    const timer = setTimeout(() => child.kill(), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        code: code ?? -1,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}
