import { literal } from './mrkdwn';

const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;

/**
 * The one form a person takes in a message: Slack's own mention `<@U…>` wherever we hold their user ID
 * (Slack shows it as their current display name), and the stored name, escaped, only where there is no
 * Slack ID (an AWS principal, an old record).
 */
export function personText(id: string | null | undefined, name?: string | null): string {
  if (id && SLACK_USER_ID.test(id)) return `<@${id}>`;
  return literal(name ?? id ?? 'someone');
}
