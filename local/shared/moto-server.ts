import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** A moto server (the AWS-API emulator) running on 127.0.0.1. */
export interface MotoServer {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

export const repoRoot = join(__dirname, '..', '..');
export const venvPython = join(repoRoot, '.cache', 'venv', 'bin', 'python');

/** Finds a free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitUntilUp(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto server exited early with code ${child.exitCode}`);
    try {
      const res = await fetch(`${url}/moto-api/data.json`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`moto server did not answer on ${url} within ${timeoutMs} ms`);
}

/**
 * Starts moto on a free loopback port from the venv that scripts/ensure-env.mjs installs. `launcher`: a
 * Python script to run in place of `-m moto.server` (same arguments), e.g. test/support/moto-launcher.py.
 */
export async function startMoto(
  options: { port?: number; stateDir?: string; launcher?: string; env?: Record<string, string> } = {},
): Promise<MotoServer> {
  const port = options.port ?? (await freePort());
  const entry = options.launcher ? [options.launcher] : ['-m', 'moto.server'];
  const child = spawn(venvPython, [...entry, '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...process.env,
      MOTO_ALLOW_NONEXISTENT_REGION: 'true',
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      ...options.env,
    },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilUp(url, child, 60_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n${stderr}`);
  }
  return {
    url,
    port,
    pid: child.pid ?? 0,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      }),
  };
}
