import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** An HTTP request as API Gateway's HTTP API (payload v2) hands it to a Lambda (in the sandbox's `account`). */
export function httpApiEvent(
  req: IncomingMessage,
  body: string,
  routeKey: string,
  pathParameters: Record<string, string>,
  sourceIp: string,
  account: string,
): Record<string, unknown> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  headers['x-forwarded-for'] = sourceIp;
  return {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    pathParameters,
    requestContext: {
      accountId: account,
      apiId: 'sandbox',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'sandbox',
      http: {
        method: req.method ?? 'GET',
        path: url.pathname,
        protocol: 'HTTP/1.1',
        sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
    },
    ...(body ? { body } : {}),
    isBase64Encoded: false,
  };
}
