import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
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

/** A request as it reached the proxy (body as bytes; hop-by-hop headers left out). */
export interface ProxyRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** An answer from moto (or from the proxy itself). */
export interface ProxyAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** What a `watch` hook gets: the request, moto's answer, and a way to ask moto more (reads only). */
export interface ProxyExchange {
  request: ProxyRequest;
  answer: ProxyAnswer;
  /** True when the request changed state (it was logged). */
  isMutation: boolean;
  /** Sends a read to moto in the same turn (nothing else runs in between). */
  read(request: ProxyRequest): Promise<ProxyAnswer>;
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
 *
 * A restart restores the net state, not the history: with `snapshotEvery`, moto runs from
 * local/moto-state.py, which pickles its whole state on request; the proxy asks for that every
 * `snapshotEvery` mutations and when it stops, then empties the log, so a restart loads the snapshot and
 * replays at most the calls made after it (its time does not grow with the account's history).
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
  private sinceSnapshot = 0;
  /** The call number the restored snapshot ended at (null: no snapshot was restored). */
  snapshotSeq: number | null = null;
  url = '';

  constructor(
    private readonly options: {
      motoUrl: string;
      logFile: string;
      logger: Logger;
      /** Mutations between two snapshots (needs moto from local/moto-state.py); absent: never. */
      snapshotEvery?: number;
      /** Answers a request itself (e.g. refuses an unknown access key) instead of forwarding it. */
      gate?: (request: ProxyRequest) => ProxyAnswer | null;
      /** Sees every forwarded request and moto's answer (after logging), and may replace the answer. */
      watch?: (exchange: ProxyExchange) => Promise<ProxyAnswer | undefined>;
    },
  ) {}

  /** Number of mutations logged so far (replayed ones included). */
  get mutations(): number {
    return this.seq;
  }

  /** Listens on 127.0.0.1:`port` (0: any free port). */
  async start(port = 0): Promise<this> {
    this.url = await this.http.listen(port);
    return this;
  }

  /** Stops serving; with snapshots on, saves the state first (nothing is lost between runs). */
  async stop(): Promise<void> {
    await this.http.close();
    if (this.options.snapshotEvery) await this.snapshot();
  }

  /** Stops serving without a last save (what a hard stop leaves behind; for tests). */
  async stopWithoutSaving(): Promise<void> {
    await this.http.close();
  }

  /**
   * Saves moto's whole state (local/moto-state.py) as of the last call, then empties the log: the
   * calls it held are in the snapshot. Runs in turn with the requests, so none is half-saved.
   */
  snapshot(): Promise<void> {
    const task = this.queue.then(async () => {
      const seq = this.seq;
      const res = await fetch(`${this.options.motoUrl}/_sandbox/save?seq=${seq}`, { method: 'POST' });
      const text = await res.text();
      if (!res.ok) throw new Error(`moto could not save its state: ${text}`);
      writeFileSync(this.options.logFile, '');
      this.sinceSnapshot = 0;
      this.options.logger.debug(
        { seq, bytes: (JSON.parse(text) as { bytes: number }).bytes },
        'aws state saved',
      );
    });
    this.queue = task.catch(() => {});
    return task;
  }

  /** What moto restored from its state file, when it runs from local/moto-state.py. */
  private async restoredSnapshot(): Promise<number | null> {
    let res: Response;
    try {
      res = await fetch(`${this.options.motoUrl}/_sandbox/info`);
    } catch {
      return null;
    }
    if (!res.ok) {
      await res.arrayBuffer();
      return null;
    }
    const info = (await res.json()) as { restored: boolean; seq: number; error: string | null };
    if (info.error) throw new Error(info.error);
    return info.restored ? info.seq : null;
  }

  /**
   * Restores the account: the snapshot moto loaded (if any), then the logged calls made after it, into
   * moto; returns how many calls were replayed, and how many answered differently than when recorded.
   */
  async replay(): Promise<{ replayed: number; differed: number }> {
    const { logFile, logger } = this.options;
    this.snapshotSeq = await this.restoredSnapshot();
    this.seq = this.snapshotSeq ?? 0;
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
      // Already in the snapshot (the log is emptied after each one; a hard stop may have come between).
      if (entry.seq <= (this.snapshotSeq ?? 0)) continue;
      const { status } = await this.forward(entry.seq, entry.method, entry.path, entry.headers, entry.body);
      this.seq = Math.max(this.seq, entry.seq);
      replayed += 1;
      if (status !== entry.status) differed += 1;
    }
    // The next start loads all of this at once instead of replaying it again.
    if (this.options.snapshotEvery && replayed > 0) await this.snapshot();
    return { replayed, differed };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || HOP_HEADERS.has(name)) continue;
      headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const request: ProxyRequest = { method: req.method ?? 'GET', path: req.url ?? '/', headers, body };
    const refused = this.options.gate?.(request);
    if (refused) {
      res.writeHead(refused.status, refused.headers);
      res.end(refused.body);
      return;
    }
    const { method, path } = request;
    const mutation = isMutation(method, headers, body);
    const task = this.queue.then(async () => {
      const seq = mutation ? this.seq + 1 : null;
      let answer = await this.forward(seq, method, path, headers, body.toString('base64'));
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
        this.sinceSnapshot += 1;
      }
      if (this.options.watch) {
        const read = (r: ProxyRequest) =>
          this.forward(null, r.method, r.path, r.headers, r.body.toString('base64'));
        answer = (await this.options.watch({ request, answer, isMutation: mutation, read })) ?? answer;
      }
      return answer;
    });
    this.queue = task.catch(() => {});
    const answer = await task;
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
    const every = this.options.snapshotEvery;
    if (every && this.sinceSnapshot >= every) {
      this.sinceSnapshot = 0;
      this.snapshot().catch((error: Error) =>
        this.options.logger.warn({ err: error.message }, 'aws state could not be saved'),
      );
    }
  }

  private async forward(
    seq: number | null,
    method: string,
    path: string,
    headers: Record<string, string>,
    body64: string,
  ): Promise<ProxyAnswer> {
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
