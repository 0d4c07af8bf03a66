import { createHmac, timingSafeEqual } from 'node:crypto';

/** An HTTP request as API Gateway (HTTP API, payload v2 or REST v1) hands it to Lambda. */
export interface HttpEvent {
  headers?: Record<string, string | undefined> | null;
  body?: string | null;
  isBase64Encoded?: boolean;
  rawPath?: string;
  path?: string;
}

export interface HttpResult {
  statusCode: number;
  headers?: Record<string, string>;
  body: string;
}

/** Largest body the Slack door reads (Slack's own payloads stay far below this). */
export const MAX_BODY_BYTES = 256 * 1024;
/** Slack's rule: a signature older (or newer) than five minutes is refused. */
export const MAX_SKEW_SECONDS = 300;

export type GuardOutcome =
  | { ok: true; rawBody: string; contentType: string; signature: string; timestamp: string; retry: boolean }
  | { ok: false; result: HttpResult; reason: string };

export function header(event: HttpEvent, name: string): string | undefined {
  const headers = event.headers ?? {};
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : (headers[key] ?? undefined);
}

function refuse(statusCode: number, reason: string, message: string): GuardOutcome {
  return {
    ok: false,
    reason,
    result: { statusCode, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: message },
  };
}

/** True when `signature` is Slack's v0 HMAC of `timestamp:body` under the signing secret. */
export function isValidSignature(
  signingSecret: string,
  timestamp: string,
  rawBody: string,
  signature: string,
): boolean {
  const expected = `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${rawBody}`).digest('hex')}`;
  const a = Buffer.from(expected);
  const b = Buffer.from(signature);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Checks a request before Bolt sees it: size, Slack's signature and timestamp (stale or future: 401),
 * and a body Bolt can parse (400 otherwise) — so forged or malformed requests get a clear 4xx and
 * change nothing. Bolt verifies the signature again; this guard exists because Bolt's Lambda receiver
 * parses before it verifies, accepts future timestamps and decodes base64 bodies as ASCII.
 */
export function guardSlackRequest(event: HttpEvent, signingSecret: string, nowSeconds: number): GuardOutcome {
  const encoded = event.body ?? '';
  // Refused before decoding (base64 is 4/3 of the bytes it holds; a character is at least one byte).
  if (encoded.length > (event.isBase64Encoded ? Math.ceil(MAX_BODY_BYTES / 3) * 4 : MAX_BODY_BYTES))
    return refuse(413, 'too-large', 'Request body too large.');
  const rawBody = event.isBase64Encoded ? Buffer.from(encoded, 'base64').toString('utf8') : encoded;
  if (Buffer.byteLength(rawBody) > MAX_BODY_BYTES) return refuse(413, 'too-large', 'Request body too large.');
  const signature = header(event, 'x-slack-signature');
  const timestamp = header(event, 'x-slack-request-timestamp');
  if (!signature || !timestamp) return refuse(401, 'unsigned', 'Missing Slack signature headers.');
  const ts = Number(timestamp);
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(nowSeconds - ts) > MAX_SKEW_SECONDS) {
    return refuse(401, 'stale', 'Stale or invalid request timestamp.');
  }
  if (!isValidSignature(signingSecret, timestamp, rawBody, signature))
    return refuse(401, 'forged', 'Invalid Slack signature.');

  const contentType = (header(event, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (contentType === 'application/x-www-form-urlencoded') {
    const payload = new URLSearchParams(rawBody).get('payload');
    if (payload !== null) {
      try {
        const parsed = JSON.parse(payload) as unknown;
        if (typeof parsed !== 'object' || parsed === null) throw new Error('not an object');
      } catch {
        return refuse(400, 'malformed', 'Malformed interaction payload.');
      }
    }
  } else if (contentType === 'application/json') {
    try {
      JSON.parse(rawBody);
    } catch {
      return refuse(400, 'malformed', 'Malformed JSON body.');
    }
  } else {
    return refuse(415, 'content-type', 'Unsupported content type.');
  }
  return {
    ok: true,
    rawBody,
    contentType,
    signature,
    timestamp,
    retry: header(event, 'x-slack-retry-num') !== undefined,
  };
}
