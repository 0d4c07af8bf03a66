import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../services/shared/logger';
import { LoopbackServer, readBody } from './shared/loopback-http';

/** One AWS call that changed state, as it went to the emulator (body base64). */
export interface MutationEntry {
  seq: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  status: number;
}

const READ_OPERATION = /^(Get|BatchGet|Query|Scan|Describe|List|TransactGet|Head)/;
const HOP_HEADERS = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive']);

/**
 * The operation an AWS SDK request asks for: the `X-Amz-Target` suffix (JSON protocols: DynamoDB, SSM),
 * else the form's `Action` (query protocols: EC2, STS); null for REST-style APIs.
 */
export function operationOf(headers: Record<string, string>, body: Buffer): string | null {
  const target = headers['x-amz-target'];
  if (target) return target.slice(target.lastIndexOf('.') + 1);
  if ((headers['content-type'] ?? '').includes('application/x-www-form-urlencoded')) {
    return new URLSearchParams(body.toString('utf8')).get('Action');
  }
  return null;
}

/** True when the request may change state (anything that is not a Get/Describe/List/Query/Scan). */
export function isMutation(method: string, headers: Record<string, string>, body: Buffer): boolean {
  const operation = operationOf(headers, body);
  if (operation) return !READ_OPERATION.test(operation);
  return method !== 'GET' && method !== 'HEAD';
}

/**
 * A loopback proxy in front of moto that keeps the emulated account between runs of the sandbox.
 *
 * moto's own recorder (MOTO_RECORDER_FILEPATH + /moto-api/recorder/*) works with moto 5.2.5, but it
 * must replay every request, reads included: each response draws a request ID from moto's random
 * generator, so dropping the reads changes every ID created after them (security-group rule IDs,
 * instance IDs) and the stored violations would no longer match EC2. The sweeper reads every few
 * seconds, so that log grows by thousands of lines an hour. Instead, this proxy logs only mutations
 * and re-seeds moto's generator with the mutation's sequence number just before forwarding it; a
 * replay does the same, so every ID comes out identical without replaying a single read. Requests
 * are forwarded one at a time so that nothing runs between a seed and its mutation.
 */
export class RecordingAwsProxy {
  private readonly http = new LoopbackServer(
    (req, res) => this.handle(req, res),
    (error, res) => {
      this.options.logger.error({ err: error.message }, 'aws proxy failed');
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('sandbox AWS proxy error');
    },
  );
  private queue: Promise<unknown> = Promise.resolve();
  private seq = 0;
  url = '';

  constructor(
    private readonly options: {
      motoUrl: string;
      logFile: string;
      logger: Logger;
    },
  ) {}

  /** Number of mutations logged so far (replayed ones included). */
  get mutations(): number {
    return this.seq;
  }

  async start(): Promise<this> {
    this.url = await this.http.listen();
    return this;
  }

  async stop(): Promise<void> {
    await this.http.close();
  }

  /** Replays the mutation log into a fresh moto; returns how many entries, and how many answered differently. */
  async replay(): Promise<{ replayed: number; differed: number }> {
    const { logFile, logger } = this.options;
    if (!existsSync(logFile)) return { replayed: 0, differed: 0 };
    let replayed = 0;
    let differed = 0;
    const lines = readFileSync(logFile, 'utf8').split('\n');
    for (const [index, line] of lines.entries()) {
      if (line.trim() === '') continue;
      let entry: MutationEntry;
      try {
        entry = JSON.parse(line) as MutationEntry;
      } catch {
        // A line cut short by a hard stop: everything before it is intact.
        logger.warn({ line: index + 1 }, 'aws state log: unreadable line skipped');
        continue;
      }
      const { status } = await this.forward(entry.seq, entry.method, entry.path, entry.headers, entry.body);
      this.seq = Math.max(this.seq, entry.seq);
      replayed += 1;
      if (status !== entry.status) differed += 1;
    }
    return { replayed, differed };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || HOP_HEADERS.has(name)) continue;
      headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const mutation = isMutation(method, headers, body);
    const task = this.queue.then(async () => {
      const seq = mutation ? this.seq + 1 : null;
      const answer = await this.forward(seq, method, path, headers, body.toString('base64'));
      if (seq !== null) {
        this.seq = seq;
        const entry: MutationEntry = {
          seq,
          method,
          path,
          headers,
          body: body.toString('base64'),
          status: answer.status,
        };
        appendFileSync(this.options.logFile, `${JSON.stringify(entry)}\n`);
      }
      return answer;
    });
    this.queue = task.catch(() => {});
    const answer = await task;
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  }

  private async forward(
    seq: number | null,
    method: string,
    path: string,
    headers: Record<string, string>,
    body64: string,
  ): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
    const { motoUrl } = this.options;
    if (seq !== null) {
      const seeded = await fetch(`${motoUrl}/moto-api/seed?a=${seq}`, { method: 'POST' });
      await seeded.arrayBuffer();
    }
    const hasBody = method !== 'GET' && method !== 'HEAD';
    const out = await fetch(`${motoUrl}${path}`, {
      method,
      headers,
      ...(hasBody ? { body: Buffer.from(body64, 'base64') } : {}),
    });
    const answerHeaders: Record<string, string> = {};
    out.headers.forEach((value, name) => {
      if (!HOP_HEADERS.has(name) && name !== 'content-encoding') answerHeaders[name] = value;
    });
    return { status: out.status, headers: answerHeaders, body: Buffer.from(await out.arrayBuffer()) };
  }
}
