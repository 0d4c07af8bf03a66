// A stand-in for the Lambda runtime, one per "container": loads one bundled handler at start (timing the
// module load), then runs invocations it receives over IPC one at a time and reports how long each took.
// Entry point of its own bundle; the bench starts one fresh process per cold-start sample.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';

type Handler = (event: unknown, context: unknown) => Promise<unknown>;

/** Messages the bench sends to a host. */
export type HostRequest = { type: 'invoke'; id: number; event: unknown } | { type: 'exit' };

/** Messages a host sends back. Times are epoch milliseconds (timeOrigin + performance.now()). */
export type HostMessage =
  | { type: 'ready'; loadMs: number; bootMs: number; loadedAt: number; error?: string }
  | {
      type: 'result';
      id: number;
      startedAt: number;
      endedAt: number;
      durationMs: number;
      result?: unknown;
      error?: string;
    };

const now = () => performance.timeOrigin + performance.now();

function send(message: HostMessage): void {
  process.send?.(message);
}

function summarize(result: unknown): unknown {
  // Enough to check the answer (status, a little body) without shipping big payloads over IPC.
  if (result && typeof result === 'object') {
    const r = result as Record<string, unknown>;
    if ('statusCode' in r) {
      const body = typeof r.body === 'string' ? r.body.slice(0, 2000) : r.body;
      return { statusCode: r.statusCode, body, headers: r.headers };
    }
    const json = JSON.stringify(r);
    return json.length <= 4000 ? JSON.parse(json) : { truncated: true, bytes: json.length };
  }
  return result ?? null;
}

const bootMs = process.uptime() * 1000;
const bundle = process.env.BENCH_HOST_BUNDLE ?? '';
const functionName = process.env.BENCH_HOST_FUNCTION ?? 'bench';
let handler: Handler | undefined;
const loadStart = now();
try {
  const mod = createRequire(__filename)(bundle) as { handler?: Handler };
  handler = mod.handler;
  if (typeof handler !== 'function') throw new Error(`${bundle} exports no handler`);
  const loadedAt = now();
  send({ type: 'ready', loadMs: loadedAt - loadStart, bootMs, loadedAt });
} catch (error) {
  send({ type: 'ready', loadMs: now() - loadStart, bootMs, loadedAt: now(), error: String(error) });
}

let queue = Promise.resolve();
process.on('message', (message: HostRequest) => {
  if (message.type === 'exit') {
    process.exit(0);
  }
  if (message.type !== 'invoke' || !handler) return;
  const run = handler;
  queue = queue.then(async () => {
    const context = {
      functionName,
      awsRequestId: randomUUID(),
      invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
      memoryLimitInMB: '512',
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => 30_000,
    };
    const startedAt = now();
    try {
      const result = await run(message.event, context);
      const endedAt = now();
      send({
        type: 'result',
        id: message.id,
        startedAt,
        endedAt,
        durationMs: endedAt - startedAt,
        result: summarize(result),
      });
    } catch (error) {
      const endedAt = now();
      send({
        type: 'result',
        id: message.id,
        startedAt,
        endedAt,
        durationMs: endedAt - startedAt,
        error: String(error),
      });
    }
  });
});
