import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { EC2Client } from '@aws-sdk/client-ec2';
import { credentialsOf } from '../../local/aws-personas';
import { repoRoot } from '../../local/shared/moto-server';

/** `npm start` running as a child process for a test, on a free port with its own state folder. */
export interface SandboxProcess {
  url: string;
  /** The AWS endpoint the bot uses (moto behind the sandbox's recording proxy). */
  awsUrl: string;
  stateDir: string;
  /** Every JSON log line so far. */
  logs: Record<string, unknown>[];
  /** Every port it listens on (page, AWS endpoint, moto, Slack API, SSM). */
  ports: number[];
  /** EC2 at the sandbox's endpoint as `persona` (default: the sandbox's admin). */
  ec2(persona?: Parameters<typeof credentialsOf>[0]): EC2Client;
  /**
   * Stops it: SIGTERM to `npm start` (a service manager), or SIGHUP to its whole process group (a closed
   * terminal); resolves when every process it started is gone. Removes the state folder unless `keepState`.
   */
  stop(options?: { keepState?: boolean; signal?: 'SIGTERM' | 'SIGHUP' }): Promise<void>;
}

/** The environment a sandbox under test runs with: nothing of the jest run's moto leaks in. */
function sandboxEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, SG_WARDEN_LOG_LEVEL: 'info' };
  for (const name of [
    'AWS_ENDPOINT_URL',
    'MOTO_URL',
    'SG_WARDEN_TABLE',
    'SG_WARDEN_CONFIG',
    'SLACK_API_URL',
  ]) {
    delete env[name];
  }
  return env;
}

/** True while any process of the process group `pgid` is alive. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `npm start -- <args>` that is expected to end by itself (e.g. refused); its exit code and stderr. */
export async function runSandboxStart(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn('npm', ['start', '--silent', '--', ...args], {
    cwd: repoRoot,
    env: sandboxEnv(),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stderr };
}

/**
 * Starts the sandbox exactly as `npm start` does (scripts/start.mjs), with a fresh state folder and
 * a config overlay, and resolves when it logs "sandbox ready".
 */
export async function startSandboxProcess(
  options: {
    config?: string;
    sweepEvery?: string;
    timeoutMs?: number;
    /** Resume this state folder (as a second `npm start` does) instead of a fresh one. */
    resume?: string;
  } = {},
): Promise<SandboxProcess> {
  const stateDir = options.resume ?? mkdtempSync(join(tmpdir(), 'sg-warden-sandbox-'));
  const args = ['--port', '0', '--state-dir', stateDir, '--json'];
  if (!options.resume) args.push('--reset');
  if (options.config) {
    const overlay = join(stateDir, 'overlay.yml');
    writeFileSync(overlay, options.config);
    args.push('--config', overlay);
  }
  if (options.sweepEvery) args.push('--sweep-every', options.sweepEvery);
  // Exactly as a person starts it: `npm start` (npm, a shell, scripts/start.mjs, the sandbox, moto), in a
  // process group of its own, so that a test that fails hard still takes every process down with it.
  const child: ChildProcess = spawn('npm', ['start', '--silent', '--', ...args], {
    cwd: repoRoot,
    env: sandboxEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`sandbox not ready within ${options.timeoutMs ?? 60_000} ms\n${stderr}`)),
      options.timeoutMs ?? 60_000,
    );
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(entry);
      if (entry.msg === 'sandbox ready') {
        clearTimeout(timer);
        resolve(entry);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sandbox exited with ${code} before it was ready\n${stderr}`));
    });
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null) resolve();
    child.once('exit', () => resolve());
  });
  const pgid = child.pid!;
  const stop = async (stopOptions: { keepState?: boolean; signal?: 'SIGTERM' | 'SIGHUP' } = {}) => {
    if (groupAlive(pgid)) {
      if (stopOptions.signal === 'SIGHUP') process.kill(-pgid, 'SIGHUP');
      else if (child.exitCode === null) child.kill('SIGTERM');
      else process.kill(-pgid, 'SIGTERM');
      const deadline = Date.now() + 20_000;
      while (groupAlive(pgid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      if (groupAlive(pgid)) {
        try {
          process.kill(-pgid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    }
    await exited;
    if (!stopOptions.keepState) rmSync(stateDir, { recursive: true, force: true });
  };
  let entry: Record<string, unknown>;
  try {
    entry = await ready;
  } catch (error) {
    await stop();
    throw error;
  }
  const awsUrl = String(entry.awsUrl);
  const ports = (entry.ports as number[] | undefined) ?? [];
  return {
    // 127.0.0.1, not localhost: the browser's resolver rules leave nothing to chance.
    url: String(entry.url).replace('localhost', '127.0.0.1'),
    awsUrl,
    stateDir,
    logs,
    ports,
    ec2: (persona = 'admin') =>
      new EC2Client({ region: 'us-east-1', endpoint: awsUrl, credentials: credentialsOf(persona) }),
    stop,
  };
}
