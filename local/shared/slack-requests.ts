import { createHmac, randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';

export interface SignOptions {
  secret: string;
  /** Seconds since the epoch; defaults to now. */
  timestamp?: number;
  /** Replace the computed signature (forgery tests). */
  signature?: string | null;
  retryNum?: number;
  base64?: boolean;
  contentType?: string;
}

/** A Slack request as API Gateway's HTTP API (payload v2) hands it to Lambda, signed like Slack signs it. */
export function signedEvent(body: string, options: SignOptions): APIGatewayProxyEventV2 {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const signature =
    options.signature === undefined
      ? `v0=${createHmac('sha256', options.secret).update(`v0:${timestamp}:${body}`).digest('hex')}`
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

/** The form body of a slash command. */
export function slashCommandBody(options: {
  command: string;
  text?: string;
  user: SlackUser;
  channel?: string;
  responseUrl?: string;
  triggerId?: string;
}): string {
  const { user } = options;
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

/** The JSON body of an Events API `app_home_opened` callback (the person opened the app's Home tab). */
export function appHomeOpenedBody(options: { user: SlackUser; teamId?: string; viewId?: string }): string {
  const teamId = options.teamId ?? 'T0SGWARDEN';
  return JSON.stringify({
    token: 'deprecated-verification-token',
    team_id: teamId,
    api_app_id: 'A0SGWARDEN',
    event: {
      type: 'app_home_opened',
      user: options.user.id,
      channel: `D${options.user.id.slice(1)}`,
      tab: 'home',
      event_ts: `${(Date.now() / 1000).toFixed(6)}`,
      ...(options.viewId ? { view: { id: options.viewId, type: 'home', team_id: teamId } } : {}),
    },
    type: 'event_callback',
    event_id: `Ev${randomUUID().replace(/-/g, '').slice(0, 10).toUpperCase()}`,
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [{ team_id: teamId, user_id: 'UBOT', is_bot: true }],
  });
}

/**
 * The form body of a button press on the app's Home tab: block_actions from a view of type `home`, with
 * no channel, message or response_url (Slack sends none there).
 */
export function homeActionBody(options: {
  actionId: string;
  value: string;
  user: SlackUser;
  viewId: string;
  blockId?: string;
  teamId?: string;
  triggerId?: string;
  view?: Record<string, unknown>;
}): string {
  const teamId = options.teamId ?? 'T0SGWARDEN';
  const payload = {
    type: 'block_actions',
    user: { id: options.user.id, username: options.user.name, name: options.user.name, team_id: teamId },
    api_app_id: 'A0SGWARDEN',
    token: 'deprecated-verification-token',
    container: { type: 'view', view_id: options.viewId },
    trigger_id: options.triggerId ?? `${Date.now()}.home.trigger`,
    team: { id: teamId, domain: 'sg-warden-test' },
    view: { ...options.view, id: options.viewId, type: 'home', team_id: teamId },
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
