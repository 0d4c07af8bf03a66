import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/**
 * The `me` link's confirmation POST from `sourceIp`, as API Gateway's HTTP API hands it to ipCapture in
 * `account`: the token and the address the page showed, as the page's form sends them.
 */
export function confirmLinkEvent(token: string, sourceIp: string, account: string): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: 'POST /ip/{token}',
    rawPath: `/ip/${token}`,
    rawQueryString: '',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'Mozilla/5.0' },
    pathParameters: { token },
    requestContext: {
      accountId: account,
      apiId: 'local',
      domainName: 'sg-warden.example.test',
      domainPrefix: 'sg-warden',
      http: {
        method: 'POST',
        path: `/ip/${token}`,
        protocol: 'HTTP/1.1',
        sourceIp,
        userAgent: 'Mozilla/5.0',
      },
      requestId: randomUUID(),
      routeKey: 'POST /ip/{token}',
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
    },
    body: new URLSearchParams({ token, address: sourceIp }).toString(),
    isBase64Encoded: false,
  };
}
