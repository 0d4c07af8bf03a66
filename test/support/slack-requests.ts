import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import {
  type SignOptions as SharedSignOptions,
  type SlackUser,
  signedEvent as signedWith,
  slashCommandBody as slashBody,
} from '../../local/shared/slack-requests';
import { SIGNING_SECRET } from './handler-env';

export { appHomeOpenedBody, homeActionBody } from '../../local/shared/slack-requests';

export type { SlackUser };
export type SignOptions = Partial<Pick<SharedSignOptions, 'secret'>> & Omit<SharedSignOptions, 'secret'>;

/** A Slack request as API Gateway's HTTP API (payload v2) hands it to Lambda, signed with the tests' secret. */
export function signedEvent(body: string, options: SignOptions = {}): APIGatewayProxyEventV2 {
  return signedWith(body, { ...options, secret: options.secret ?? SIGNING_SECRET });
}

export const ENGINEER: SlackUser = { id: 'U0ENGINEER', name: 'erin.engineer' };
export const APPROVER: SlackUser = { id: 'U0APPROVER', name: 'alex.approver' };
export const OUTSIDER: SlackUser = { id: 'U0OUTSIDER', name: 'oscar.outsider' };

/** The form body of a slash command (by the engineer unless `user` is given). */
export function slashCommandBody(
  options: Omit<Parameters<typeof slashBody>[0], 'user'> & { user?: SlackUser },
): string {
  return slashBody({ ...options, user: options.user ?? ENGINEER });
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
