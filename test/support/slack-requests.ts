import { createHmac, randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { SIGNING_SECRET } from './handler-env';

export interface SignOptions {
  secret?: string;
  /** Seconds since the epoch; defaults to now. */
  timestamp?: number;
  /** Replace the computed signature (forgery tests). */
  signature?: string | null;
  retryNum?: number;
  base64?: boolean;
  contentType?: string;
}

/** A Slack request as API Gateway's HTTP API (payload v2) hands it to Lambda, signed like Slack signs it. */
export function signedEvent(body: string, options: SignOptions = {}): APIGatewayProxyEventV2 {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const signature =
    options.signature === undefined
      ? `v0=${createHmac('sha256', options.secret ?? SIGNING_SECRET)
          .update(`v0:${timestamp}:${body}`)
          .digest('hex')}`
      : options.signature;
  const headers: Record<string, string> = {
    'content-type': options.contentType ?? 'application/x-www-form-urlencoded',
    'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
    'x-slack-request-timestamp': String(timestamp),
  };
  if (signature !== null) headers['x-slack-signature'] = signature;
  if (options.retryNum !== undefined) {
    headers['x-slack-retry-num'] = String(options.retryNum);
    headers['x-slack-retry-reason'] = 'http_timeout';
  }
  return {
    version: '2.0',
    routeKey: 'POST /slack/events',
    rawPath: '/slack/events',
    rawQueryString: '',
    headers,
    requestContext: {
      accountId: '123456789012',
      apiId: 'local',
      domainName: 'local',
      domainPrefix: 'local',
      http: {
        method: 'POST',
        path: '/slack/events',
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: headers['user-agent']!,
      },
      requestId: randomUUID(),
      routeKey: 'POST /slack/events',
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
    },
    body: options.base64 ? Buffer.from(body).toString('base64') : body,
    isBase64Encoded: options.base64 ?? false,
  };
}

export interface SlackUser {
  id: string;
  name: string;
}

export const ENGINEER: SlackUser = { id: 'U0ENGINEER', name: 'erin.engineer' };
export const APPROVER: SlackUser = { id: 'U0APPROVER', name: 'alex.approver' };
export const OUTSIDER: SlackUser = { id: 'U0OUTSIDER', name: 'oscar.outsider' };

/** The form body of a slash command. */
export function slashCommandBody(options: {
  command: string;
  text?: string;
  user?: SlackUser;
  channel?: string;
  responseUrl?: string;
  triggerId?: string;
}): string {
  const user = options.user ?? ENGINEER;
  return new URLSearchParams({
    token: 'deprecated-verification-token',
    team_id: 'T0SGWARDEN',
    team_domain: 'sg-warden-test',
    channel_id: options.channel ?? 'C0ALERTS',
    channel_name: 'security-alerts',
    user_id: user.id,
    user_name: user.name,
    command: options.command,
    text: options.text ?? '',
    api_app_id: 'A0SGWARDEN',
    is_enterprise_install: 'false',
    response_url: options.responseUrl ?? 'https://hooks.slack.invalid/commands/T0/1/abc',
    trigger_id: options.triggerId ?? `${Date.now()}.trigger`,
  }).toString();
}

/** The form body (payload=JSON) of a block_actions interaction: a button press on a message. */
export function blockActionBody(options: {
  actionId: string;
  value: string;
  blockId?: string;
  user?: SlackUser;
  channel?: string;
  messageTs?: string;
  responseUrl?: string;
  triggerId?: string;
}): string {
  const user = options.user ?? ENGINEER;
  const payload = {
    type: 'block_actions',
    user: { id: user.id, username: user.name, name: user.name, team_id: 'T0SGWARDEN' },
    api_app_id: 'A0SGWARDEN',
    token: 'deprecated-verification-token',
    container: {
      type: 'message',
      message_ts: options.messageTs ?? '1700000000.000100',
      channel_id: options.channel ?? 'C0ALERTS',
      is_ephemeral: false,
    },
    trigger_id: options.triggerId ?? `${Date.now()}.trigger`,
    team: { id: 'T0SGWARDEN', domain: 'sg-warden-test' },
    channel: { id: options.channel ?? 'C0ALERTS', name: 'security-alerts' },
    message: { type: 'message', ts: options.messageTs ?? '1700000000.000100', text: 'alert' },
    response_url: options.responseUrl ?? 'https://hooks.slack.invalid/actions/T0/1/abc',
    actions: [
      {
        action_id: options.actionId,
        block_id: options.blockId ?? 'block',
        text: { type: 'plain_text', text: 'button' },
        value: options.value,
        type: 'button',
        action_ts: `${Date.now() / 1000}`,
      },
    ],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/** The form body of a view_submission (a modal's submit button). */
export function viewSubmissionBody(options: {
  callbackId: string;
  values: Record<string, Record<string, Record<string, unknown>>>;
  privateMetadata?: string;
  user?: SlackUser;
}): string {
  const user = options.user ?? ENGINEER;
  const payload = {
    type: 'view_submission',
    team: { id: 'T0SGWARDEN', domain: 'sg-warden-test' },
    user: { id: user.id, username: user.name, name: user.name, team_id: 'T0SGWARDEN' },
    api_app_id: 'A0SGWARDEN',
    token: 'deprecated-verification-token',
    trigger_id: `${Date.now()}.trigger`,
    view: {
      id: 'V0TESTVIEW',
      team_id: 'T0SGWARDEN',
      type: 'modal',
      callback_id: options.callbackId,
      private_metadata: options.privateMetadata ?? '',
      state: { values: options.values },
      hash: '1700000000.abc',
    },
    response_urls: [],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/**
 * What the Slack door hands the worker for `body` (the async invoke's payload): the job kind and the request
 * as Slack signed it. Sign options as for signedEvent: another secret, a timestamp, a signature of one's own.
 */
export function signedJob(
  kind: string,
  body: string,
  options: SignOptions = {},
): { kind: string; request: { body: string; signature: string; timestamp: string } } {
  const event = signedEvent(body, options);
  return {
    kind,
    request: {
      body,
      signature: event.headers['x-slack-signature'] ?? '',
      timestamp: event.headers['x-slack-request-timestamp'] ?? '',
    },
  };
}
