import { Agent, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { LoopbackServer, readBody } from '../../local/shared/loopback-http';

/** One AWS API call that went through the proxy. Times are epoch milliseconds with sub-millisecond precision. */
export interface ProxiedCall {
  /** The signing name from the SigV4 credential scope: `dynamodb`, `ec2`, `ssm`, `lambda`, `sts`… */
  service: string;
  /** The API action: `Query`, `AuthorizeSecurityGroupIngress`, `Invoke`… */
  action: string;
  method: string;
  path: string;
  /** The request body, when `recordBodies` is on (form-encoded EC2 calls carry their parameters here). */
  body?: string;
  startedAt: number;
  endedAt: number;
  status: number;
  /** True when an `intercept` hook answered instead of the emulator. */
  intercepted: boolean;
}

/** What an intercept hook answers in place of the emulator. */
export interface InterceptAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface SlowProxyOptions {
  /** Where calls go: the AWS emulator's URL (e.g. MOTO_URL). */
  target: string;
  /** Milliseconds each call waits before it is forwarded (a slow AWS); a function picks per call. */
  delayMs?: number | ((call: { service: string; action: string }) => number);
  /** Keep request bodies in `calls` (for asserting on EC2 parameters). Off by default. */
  recordBodies?: boolean;
  /**
   * Answers some calls itself instead of forwarding them (after the delay), e.g. Lambda's async Invoke,
   * which the emulator cannot run. Return null to forward.
   */
  intercept?: (
    call: { service: string; action: string; path: string; region?: string },
    body: string,
  ) => InterceptAnswer | null;
}

/** Epoch milliseconds with sub-millisecond precision, comparable across processes on one machine. */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

/** The signing service from an `Authorization: AWS4-HMAC-SHA256 Credential=key/date/region/service/aws4_request`. */
function serviceOf(req: IncomingMessage): string {
  const auth = req.headers.authorization ?? '';
  const match = /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//.exec(auth);
  return match?.[1] ?? 'unknown';
}

/** The signing region from the same credential scope. */
function regionOf(req: IncomingMessage): string | undefined {
  return /Credential=[^/]+\/[^/]+\/([^/]+)\//.exec(req.headers.authorization ?? '')?.[1];
}

function actionOf(req: IncomingMessage, path: string, body: string): string {
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string') return target.slice(target.lastIndexOf('.') + 1);
  const type = req.headers['content-type'] ?? '';
  if (type.includes('x-www-form-urlencoded')) {
    const action = new URLSearchParams(body).get('Action');
    if (action) return action;
  }
  if (/\/functions\/[^/]+\/invocations$/.test(path)) return 'Invoke';
  return `${req.method ?? 'GET'} ${path}`;
}

/**
 * An HTTP proxy on loopback in front of the AWS emulator that makes every call slow (a fixed or per-call
 * delay), records what was called and when, and can answer some calls itself. Point `AWS_ENDPOINT_URL`
 * at `url`. Used by `npm run bench` (AWS slowed by 2 s per call) and available to fault tests.
 */
export class SlowProxy {
  readonly calls: ProxiedCall[] = [];
  url = '';
  private readonly http = new LoopbackServer(
    (req, res) => this.handle(req, res),
    (error, res) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`slow-proxy: ${error.message}`);
    },
  );
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });
  private readonly target: URL;

  constructor(private readonly options: SlowProxyOptions) {
    this.target = new URL(options.target);
  }

  /** Changes the delay for calls that arrive from now on. */
  setDelay(delayMs: SlowProxyOptions['delayMs']): void {
    this.options.delayMs = delayMs;
  }

  /** Calls of one action (optionally one service), in arrival order. */
  callsTo(action: string, service?: string): ProxiedCall[] {
    return this.calls.filter((c) => c.action === action && (service === undefined || c.service === service));
  }

  /** Calls that started at or after `from` and finished at or before `to` (epoch ms, see preciseNow). */
  callsWithin(from: number, to: number): ProxiedCall[] {
    return this.calls.filter((c) => c.startedAt >= from && c.endedAt <= to);
  }

  reset(): void {
    this.calls.length = 0;
  }

  async start(port = 0): Promise<this> {
    this.url = await this.http.listen(port);
    return this;
  }

  async stop(): Promise<void> {
    await this.http.close();
    this.agent.destroy();
  }

  private delayFor(call: { service: string; action: string }): number {
    const { delayMs } = this.options;
    if (typeof delayMs === 'function') return delayMs(call);
    return delayMs ?? 0;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedAt = preciseNow();
    const body = await readBody(req);
    const path = req.url ?? '/';
    const text = body.toString('utf8');
    const service = serviceOf(req);
    const action = actionOf(req, path, text);
    const call: ProxiedCall = {
      service,
      action,
      method: req.method ?? 'GET',
      path,
      ...(this.options.recordBodies ? { body: text } : {}),
      startedAt,
      endedAt: startedAt,
      status: 0,
      intercepted: false,
    };
    const delay = this.delayFor(call);
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));

    const region = regionOf(req);
    const answer =
      this.options.intercept?.({ service, action, path, ...(region ? { region } : {}) }, text) ?? null;
    if (answer) {
      res.writeHead(answer.status, answer.headers ?? {});
      res.end(answer.body ?? '');
      this.record({ ...call, status: answer.status, intercepted: true });
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const upstream = request(
        {
          protocol: this.target.protocol,
          hostname: this.target.hostname,
          port: this.target.port,
          method: req.method,
          path,
          headers: req.headers,
          agent: this.agent,
        },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
          upRes.on('end', () => {
            this.record({ ...call, status: upRes.statusCode ?? 502 });
            resolve();
          });
          upRes.on('error', reject);
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });
  }

  private record(call: ProxiedCall): void {
    this.calls.push({ ...call, endedAt: preciseNow() });
  }
}

/**
 * An intercept hook that plays Lambda's asynchronous Invoke (InvocationType Event), which the emulator
 * cannot run: it answers 202 like Lambda does and keeps each payload (e.g. the Slack door's jobs) in `sink`.
 */
export function lambdaInvokeSink(
  sink: { functionName: string; payload: unknown }[],
): SlowProxyOptions['intercept'] {
  return (call, body) => {
    if (call.service !== 'lambda' || call.action !== 'Invoke') return null;
    const functionName = decodeURIComponent(/\/functions\/([^/]+)\/invocations/.exec(call.path)?.[1] ?? '');
    let payload: unknown = body;
    try {
      payload = JSON.parse(body);
    } catch {
      // not JSON: keep the raw text
    }
    sink.push({ functionName, payload });
    return { status: 202, headers: { 'content-type': 'application/json' }, body: '' };
  };
}
