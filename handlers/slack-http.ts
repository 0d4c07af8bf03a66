import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { createSlackApp } from '../slack/app';
import { slackRequestId, withSlackRequest } from '../slack/request-context';
import { guardSlackRequest, type HttpEvent, header } from '../slack/request-guard';
import { getWiring, inInvocation } from './wiring';

type BoltHandler = (event: unknown, context: unknown) => Promise<APIGatewayProxyStructuredResultV2>;

const wiring = getWiring();
let door: Promise<{ bolt: BoltHandler; signingSecret: string }> | undefined;

/** Bolt's App and receiver, built once per container after the secrets are read from Parameter Store. */
function getDoor(): Promise<{ bolt: BoltHandler; signingSecret: string }> {
  door ??= wiring.secrets.get().then(({ botToken, signingSecret }) => {
    const { receiver } = createSlackApp({
      signingSecret,
      botToken,
      ...(wiring.slackApiUrl ? { slackApiUrl: wiring.slackApiUrl } : {}),
      deps: wiring,
    });
    return { bolt: receiver.toHandler() as BoltHandler, signingSecret };
  });
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
