import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { describeError } from '../services/shared/errors';
import { handleIpCapture } from '../slack/ip-capture';
import { getWiring, inInvocation } from './wiring';

/** Form bodies here hold one hidden field; anything much larger is not ours. */
const MAX_BODY_BYTES = 4096;

function formToken(event: APIGatewayProxyEventV2): string | null {
  if (!event.body) return null;
  const raw = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  if (Buffer.byteLength(raw) > MAX_BODY_BYTES) return null;
  return new URLSearchParams(raw).get('token');
}

function errorPage(statusCode: number, sentence: string): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode,
    headers: {
      'content-type': 'text/plain; charset=utf-8',
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
      'x-content-type-options': 'nosniff',
    },
    body: sentence,
  };
}

/**
 * The `me` link endpoint (API Gateway HTTP API: GET and POST /ip/{token}). GET shows a confirmation page
 * and changes nothing; POST uses the one-time link and grants the address API Gateway saw.
 */
export async function handler(
  event: APIGatewayProxyEventV2,
  context?: Context,
): Promise<APIGatewayProxyStructuredResultV2> {
  const wiring = getWiring();
  const method = event.requestContext?.http?.method?.toUpperCase() ?? 'GET';
  const token = event.pathParameters?.token ?? /^\/ip\/([^/]+)$/.exec(event.rawPath ?? '')?.[1] ?? '';
  // The token is a secret: the line carries the method only.
  return inInvocation(context, { method }, async (logger) => {
    try {
      return await handleIpCapture(wiring, {
        method,
        token,
        formToken: method === 'POST' ? formToken(event) : null,
        sourceIp: event.requestContext?.http?.sourceIp ?? '',
      });
    } catch (error) {
      logger.error({ err: describeError(error) }, 'ip capture failed');
      return errorPage(
        500,
        'Something went wrong on our side. Check Slack or /sg-whitelist list before trying again with a new link.',
      );
    }
  });
}
