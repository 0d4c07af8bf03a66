import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { type HandlerEnv, startHandlerEnv } from '../../support/handler-env';
import { blockActionBody, signedEvent, slashCommandBody } from '../../support/slack-requests';

type Handler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

let env: HandlerEnv;
let handler: Handler;
const context = {} as Context;

beforeAll(async () => {
  env = await startHandlerEnv();
  ({ handler } = await import('../../../handlers/slack-http'));
});

afterAll(() => env.stop());

const body = blockActionBody({ actionId: 'no_such_action', value: 'x' });

describe('slack-http door: request verification', () => {
  it.each([
    ['a forged signature', signedEvent(body, { signature: `v0=${'0'.repeat(64)}` })],
    ['a signature made with another secret', signedEvent(body, { secret: 'not-the-secret' })],
    ['no signature header', signedEvent(body, { signature: null })],
    [
      'a timestamp older than five minutes',
      signedEvent(body, { timestamp: Math.floor(Date.now() / 1000) - 400 }),
    ],
    [
      'a timestamp more than five minutes ahead',
      signedEvent(body, { timestamp: Math.floor(Date.now() / 1000) + 400 }),
    ],
  ])('answers 401 and calls nothing for %s', async (_name, event) => {
    const result = await handler(event, context);
    expect(result.statusCode).toBe(401);
    expect(env.slack.calls).toHaveLength(0);
  });

  it('answers 400 for a signed but malformed interaction payload', async () => {
    const result = await handler(signedEvent('payload=%7Bnot-json'), context);
    expect(result.statusCode).toBe(400);
  });

  it('answers 413 for an oversized body', async () => {
    const result = await handler(signedEvent(`text=${'a'.repeat(300 * 1024)}`), context);
    expect(result.statusCode).toBe(413);
  });

  it('answers 415 for a body that is neither a form nor JSON', async () => {
    const result = await handler(signedEvent('hello', { contentType: 'text/plain' }), context);
    expect(result.statusCode).toBe(415);
  });

  it('acknowledges a Slack retry without acting again', async () => {
    const result = await handler(
      signedEvent(slashCommandBody({ command: '/sg-status' }), { retryNum: 1 }),
      context,
    );
    expect(result).toMatchObject({ statusCode: 200, headers: { 'x-slack-no-retry': '1' } });
    expect(env.slack.calls).toHaveLength(0);
  });

  it('passes a correctly signed base64 body with UTF-8 text through to Bolt', async () => {
    const utf8 = slashCommandBody({ command: '/sg-unknown', text: 'grüße ✓' });
    const result = await handler(signedEvent(utf8, { base64: true }), context);
    // No listener handles /sg-unknown: Bolt's own 404 shows the request passed verification.
    expect(result.statusCode).toBe(404);
  });
});
