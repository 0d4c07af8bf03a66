import { type ChildProcess, spawn } from 'node:child_process';
import type { HostMessage, HostRequest } from '../host';

type ResultMessage = Extract<HostMessage, { type: 'result' }>;
type ReadyMessage = Extract<HostMessage, { type: 'ready' }>;

/** Where the bench keeps its built files; set by the orchestrator. */
export function buildDir(): string {
  const dir = process.env.BENCH_BUILD_DIR;
  if (!dir) throw new Error('BENCH_BUILD_DIR is not set: run the bench through `npm run bench`');
  return dir;
}

export interface HostOptions {
  /** The bundled handler file. */
  bundle: string;
  functionName: string;
  /** The function's environment (merged over a minimal base, not over the bench's own environment). */
  env: Record<string, string>;
  /** NODE_OPTIONS from serverless.yml, applied as the Lambda runtime would. */
  nodeOptions?: string | null;
}

/**
 * One fresh Node process standing in for a Lambda container: it loads the bundle once (timed) and then
 * runs invocations one at a time, like Lambda does.
 */
export class FunctionHost {
  ready!: ReadyMessage;
  spawnedAt = 0;
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, (m: ResultMessage) => void>();
  private stderr = '';

  constructor(private readonly options: HostOptions) {}

  async start(): Promise<this> {
    const hostFile = `${buildDir()}/host.js`;
    this.spawnedAt = performance.timeOrigin + performance.now();
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      TZ: 'UTC',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      // The SDK's notice about Node 20 support would otherwise be printed by every fresh process.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...this.options.env,
      BENCH_HOST_BUNDLE: this.options.bundle,
      BENCH_HOST_FUNCTION: this.options.functionName,
    };
    if (this.options.nodeOptions) env.NODE_OPTIONS = this.options.nodeOptions;
    const child = spawn(process.execPath, [hostFile], { env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    this.child = child;
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    this.ready = await new Promise<ReadyMessage>((resolve, reject) => {
      const onExit = (code: number | null) =>
        reject(
          new Error(`${this.options.functionName} host exited (${code}) before it was ready: ${this.stderr}`),
        );
      child.once('exit', onExit);
      child.on('message', (message: HostMessage) => {
        if (message.type === 'ready') {
          child.off('exit', onExit);
          resolve(message);
        } else if (message.type === 'result') {
          this.pending.get(message.id)?.(message);
          this.pending.delete(message.id);
        }
      });
    });
    if (this.ready.error) throw new Error(`${this.options.functionName} failed to load: ${this.ready.error}`);
    return this;
  }

  /** Runs one invocation and resolves with its timing and (summarised) answer. */
  invoke(event: unknown): Promise<ResultMessage> {
    const child = this.child;
    if (!child?.connected) return Promise.reject(new Error('host is not running'));
    const id = this.nextId++;
    return new Promise<ResultMessage>((resolve, reject) => {
      const onExit = () => reject(new Error(`${this.options.functionName} host died: ${this.stderr}`));
      child.once('exit', onExit);
      this.pending.set(id, (m) => {
        child.off('exit', onExit);
        resolve(m);
      });
      child.send({ type: 'invoke', id, event } satisfies HostRequest);
    });
  }

  /** Recent stderr of the host (for error messages). */
  get errors(): string {
    return this.stderr;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      if (child.connected) child.send({ type: 'exit' } satisfies HostRequest);
      setTimeout(() => child.kill('SIGKILL'), 2000).unref();
    });
  }
}
