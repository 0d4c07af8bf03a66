import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { EC2Client } from '@aws-sdk/client-ec2';
import { repoRoot } from '../../local/shared/moto-server';

/** `npm start` running as a child process for a test, on a free port with its own state folder. */
export interface SandboxProcess {
  url: string;
  /** The AWS endpoint the bot uses (moto behind the sandbox's recording proxy). */
  awsUrl: string;
  stateDir: string;
  /** Every JSON log line so far. */
  logs: Record<string, unknown>[];
  ec2(): EC2Client;
  /** Stops it as Ctrl-C would; removes the state folder unless `keepState`. */
  stop(options?: { keepState?: boolean }): Promise<void>;
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
  const args = ['scripts/start.mjs', '--port', '0', '--state-dir', stateDir, '--json'];
  if (!options.resume) args.push('--reset');
  if (options.config) {
    const overlay = join(stateDir, 'overlay.yml');
    writeFileSync(overlay, options.config);
    args.push('--config', overlay);
  }
  if (options.sweepEvery) args.push('--sweep-every', options.sweepEvery);
  const env: NodeJS.ProcessEnv = { ...process.env, SG_WARDEN_LOG_LEVEL: 'info' };
  // The sandbox sets its own AWS and Slack environment; nothing of the jest run's moto leaks in.
  for (const name of [
    'AWS_ENDPOINT_URL',
    'MOTO_URL',
    'SG_WARDEN_TABLE',
    'SG_WARDEN_CONFIG',
    'SLACK_API_URL',
  ]) {
    delete env[name];
  }
  // Its own process group, so that a test that fails hard still takes moto down with it.
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: repoRoot,
    env,
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
  const stop = async (stopOptions: { keepState?: boolean } = {}) => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, 15_000);
      await exited;
      clearTimeout(timer);
    }
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
  return {
    // 127.0.0.1, not localhost: the browser's resolver rules leave nothing to chance.
    url: String(entry.url).replace('localhost', '127.0.0.1'),
    awsUrl,
    stateDir,
    logs,
    ec2: () =>
      new EC2Client({
        region: 'us-east-1',
        endpoint: awsUrl,
        credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
      }),
    stop,
  };
}
