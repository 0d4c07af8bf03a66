import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { lazyModule } from '../services/shared/lazy-module';
import { slackRequestId, withSlackRequest } from '../slack/request-context';
import { guardSlackRequest, type HttpEvent, header } from '../slack/request-guard';
import { getWiring, inInvocation } from './wiring';

type BoltHandler = (event: unknown, context: unknown) => Promise<APIGatewayProxyStructuredResultV2>;

/** Bolt and every listener: loaded by the first request, while the secrets read is on the wire. */
const slackApp = lazyModule(() => require('../slack/app') as typeof import('../slack/app'));

const wiring = getWiring();
let door: Promise<{ bolt: BoltHandler; signingSecret: string }> | undefined;

/** Lets the event loop run once, so that a request already started leaves before synchronous work. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Bolt's App and receiver, built once per container once the secrets are read from Parameter Store. */
function getDoor(): Promise<{ bolt: BoltHandler; signingSecret: string }> {
  door ??= (async () => {
    // The secrets read starts with the first request, not at init: init stays lighter than Bolt alone
    // (the SSM client's load is about 80 ms), and the read is on the wire while Bolt and the hand-off's
    // client load. Nothing is believed before the request checks its signature against it; a failed read
    // is not kept (SsmSecretSource), so the next request reads again (this one answers 503).
    const secrets = wiring.secrets.get();
    await nextTurn();
    // Synchronous loads while the read is in flight: Bolt with the listeners, and the hand-off's client.
    const { createSlackApp } = slackApp();
    wiring.jobs.prepare?.();
    const { botToken, signingSecret } = await secrets;
    const { receiver } = createSlackApp({
      signingSecret,
      botToken,
      ...(wiring.slackApiUrl ? { slackApiUrl: wiring.slackApiUrl } : {}),
      deps: wiring,
    });
    return { bolt: receiver.toHandler() as BoltHandler, signingSecret };
  })();
  door.catch(() => {
    door = undefined;
  });
  return door;
}

/**
 * The Slack door (API Gateway HTTP API → Bolt). Verifies Slack's signature and timestamp first, answers
 * retries without acting again, and lets listeners ack at once: slow work runs in the worker.
 */
export async function handler(
  event: APIGatewayProxyEventV2,
  context: Context,
): Promise<APIGatewayProxyStructuredResultV2> {
  // Every line of this invocation names the Slack request it handles (the ID the worker's replay guard uses).
  const requestId = slackRequestId(header(event as HttpEvent, 'x-slack-signature') ?? '');
  return inInvocation(context, { slackRequestId: requestId }, async (logger) => {
    let bolt: BoltHandler;
    let signingSecret: string;
    try {
      ({ bolt, signingSecret } = await getDoor());
    } catch (error) {
      logger.error({ err: (error as Error).message }, 'slack door not ready');
      return {
        statusCode: 503,
        headers: { 'content-type': 'text/plain' },
        body: 'sg-warden is not configured yet.',
      };
    }
    const guard = guardSlackRequest(event as HttpEvent, signingSecret, Math.floor(Date.now() / 1000));
    if (!guard.ok) {
      logger.warn({ reason: guard.reason, status: guard.result.statusCode }, 'slack request refused');
      return guard.result;
    }
    if (guard.retry) {
      // The first delivery is being (or was) handled: a retry must never cause a second action.
      logger.info('slack retry ignored');
      return { statusCode: 200, headers: { 'x-slack-no-retry': '1' }, body: '' };
    }
    // Jobs handed off while Bolt handles this request carry it as Slack signed it: the worker's proof.
    const signed = { body: guard.rawBody, signature: guard.signature, timestamp: guard.timestamp };
    return withSlackRequest(signed, () =>
      bolt(
        {
          ...event,
          body: guard.rawBody,
          isBase64Encoded: false,
          headers: { ...event.headers, 'content-type': guard.contentType },
        },
        context,
      ),
    );
  });
}
