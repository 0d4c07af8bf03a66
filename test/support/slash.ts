import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { HandlerEnv } from './handler-env';
import { blockActionBody, ENGINEER, type SlackUser, signedEvent, slashCommandBody } from './slack-requests';

export type HttpHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

/** What one signed request produced: the HTTP answer (the ack) and what the worker posted to response_url. */
export interface SlackExchange {
  status: number | undefined;
  /** The ack's JSON body, or null when the ack was empty. */
  ack: { text?: string; blocks?: unknown[]; response_type?: string } | null;
  /** Bodies posted to this request's response_url, in order. */
  replies: { text?: string; blocks?: unknown[]; response_type?: string }[];
  /** Everything the ack and the replies say, as one string (text and blocks). */
  said: string;
}

function exchange(
  env: HandlerEnv,
  result: APIGatewayProxyStructuredResultV2,
  responseUrl: string,
): SlackExchange {
  const ack = result.body ? (JSON.parse(result.body) as SlackExchange['ack']) : null;
  const id = responseUrl.slice(responseUrl.lastIndexOf('/') + 1);
  const replies = env.slack.responseUrlPosts
    .filter((p) => p.id === id)
    .map((p) => p.body as SlackExchange['ack'] & {});
  const said = [ack, ...replies]
    .map((m) => (m ? `${m.text ?? ''}\n${JSON.stringify(m.blocks ?? [])}` : ''))
    .join('\n');
  return { status: result.statusCode, ack, replies, said };
}

/** Sends a signed slash command through the Slack door, waits for the worker, and collects the answers. */
export async function slash(
  env: HandlerEnv,
  handler: HttpHandler,
  drain: () => Promise<void>,
  command: string,
  text: string,
  user: SlackUser = ENGINEER,
  channel = 'C0ENGCHAT',
): Promise<SlackExchange> {
  const responseUrl = env.slack.responseUrl();
  const result = await handler(
    signedEvent(slashCommandBody({ command, text, user, channel, responseUrl })),
    {} as Context,
  );
  await drain();
  return exchange(env, result, responseUrl);
}

/** Presses a button (block_actions) through the Slack door and collects the answers. */
export async function press(
  env: HandlerEnv,
  handler: HttpHandler,
  drain: () => Promise<void>,
  actionId: string,
  value: string,
  user: SlackUser = ENGINEER,
  channel = 'D0ENGINEER',
): Promise<SlackExchange> {
  const responseUrl = env.slack.responseUrl();
  const result = await handler(
    signedEvent(blockActionBody({ actionId, value, user, channel, responseUrl })),
    {} as Context,
  );
  await drain();
  return exchange(env, result, responseUrl);
}
