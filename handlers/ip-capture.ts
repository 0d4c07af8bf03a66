import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { describeError } from '../services/shared/errors';
import { handleLinkPage, type LinkPageRequest } from '../web/link-page';
import { getWiring, inInvocation } from './wiring';

/** Form bodies here hold two hidden fields; anything much larger is not ours. */
const MAX_BODY_BYTES = 4096;

/** The confirmation form's fields (the one-time token and the address the page showed), or null. */
function formOf(event: APIGatewayProxyEventV2): LinkPageRequest['form'] {
  if (!event.body) return null;
  const raw = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  if (Buffer.byteLength(raw) > MAX_BODY_BYTES) return null;
  const fields = new URLSearchParams(raw);
  return { token: fields.get('token'), address: fields.get('address') };
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
 * and changes nothing; POST uses the one-time link and grants the address API Gateway saw, which must be
 * the address the page showed.
 */
export async function handler(
  event: APIGatewayProxyEventV2,
  context?: Context,
): Promise<APIGatewayProxyStructuredResultV2> {
  const wiring = getWiring();
  const method = event.requestContext?.http?.method?.toUpperCase() ?? 'GET';
  const token = event.pathParameters?.token ?? /^\/ip\/([^/]+)$/.exec(event.rawPath ?? '')?.[1] ?? '';
  // Before anything reads it: a body this size is not the confirmation form.
  if (method === 'POST' && (event.body?.length ?? 0) > (event.isBase64Encoded ? 2 : 1) * MAX_BODY_BYTES)
    return errorPage(413, 'Request body too large.');
  // The token is a secret: the line carries the method only.
  return inInvocation(context, { method }, async (logger) => {
    try {
      return await handleLinkPage(wiring, {
        method,
        token,
        form: method === 'POST' ? formOf(event) : null,
        sourceIp: event.requestContext?.http?.sourceIp ?? '',
      });
    } catch (error) {
      logger.error({ err: describeError(error) }, 'ip capture failed');
      return errorPage(
        500,
        'Something went wrong on our side. Check Slack or /sg-whitelist list before trying again with a new link.',
      );
    } finally {
      wiring.metrics.flush();
    }
  });
}
