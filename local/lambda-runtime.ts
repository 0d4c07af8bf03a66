import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import type { Logger } from '../services/shared/logger';
import { ACCOUNT, REGION } from './seed-account';

// biome-ignore lint/suspicious/noExplicitAny: a Lambda handler takes whatever event its trigger sends.
export type LambdaHandler = (event: any, context: Context) => Promise<any>;

/** A Lambda context like the runtime's, for one invocation of `functionName`. */
export function lambdaContext(functionName: string, timeoutMs: number): Context {
  const started = Date.now();
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `sandbox/${new Date().toISOString().slice(0, 10)}/[$LATEST]${randomUUID().replace(/-/g, '')}`,
    getRemainingTimeInMillis: () => Math.max(0, timeoutMs - (Date.now() - started)),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/**
 * Runs handlers the way Lambda does, in this process: one context per invocation, a timing line per
 * invocation, and for asynchronous triggers (EventBridge) Lambda's retry of a failed invocation twice.
 */
export class LocalLambda {
  constructor(private readonly logger: Logger) {}

  /** A synchronous invocation (API Gateway): the caller gets the answer or the error. */
  async invoke<T>(
    functionName: string,
    handler: LambdaHandler,
    event: unknown,
    options: { timeoutMs?: number; quiet?: boolean } = {},
  ): Promise<T> {
    const context = lambdaContext(functionName, options.timeoutMs ?? 30_000);
    const started = Date.now();
    try {
      const result = (await handler(event, context)) as T;
      // The schedule fires every few seconds: its timing lines are debug, failures still errors.
      this.logger[options.quiet ? 'debug' : 'info'](
        { lambda: functionName, requestId: context.awsRequestId, durationMs: Date.now() - started },
        'lambda invoked',
      );
      return result;
    } catch (error) {
      this.logger.error(
        {
          lambda: functionName,
          requestId: context.awsRequestId,
          durationMs: Date.now() - started,
          err: (error as Error).message,
        },
        'lambda invocation failed',
      );
      throw error;
    }
  }

  /** An asynchronous invocation (EventBridge): failures are retried twice, as Lambda does, then logged. */
  async invokeAsync(
    functionName: string,
    handler: LambdaHandler,
    event: unknown,
    retryDelaysMs = [1000, 2000],
    quiet = false,
  ) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.invoke(functionName, handler, event, { quiet });
      } catch (error) {
        const delay = retryDelaysMs[attempt];
        if (delay === undefined) {
          this.logger.error(
            { lambda: functionName, attempts: attempt + 1 },
            'lambda event dropped after retries',
          );
          throw error;
        }
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }
}

/** The event EventBridge's schedule sends the sweeper. */
export function scheduledEvent(ruleName: string): Record<string, unknown> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: ACCOUNT,
    time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: REGION,
    resources: [`arn:aws:events:${REGION}:${ACCOUNT}:rule/${ruleName}`],
    detail: {},
  };
}
