import type { WebClient } from '@slack/web-api';
import { grantedAccess } from '../services/detection/own-rules';
import { describeRule } from '../services/detection/policy';
import type { GrantChangeNotifier, RuleChange } from '../services/grants/changed-rule';
import type { GrantItem } from '../services/grants/items';
import { type SlackMessage, section } from './blocks/kit';
import { code, escapeMrkdwn, literal, plainLiteral } from './mrkdwn';

/** The owner's DM when someone changed the rule of their grant: what was granted, what the rule is now, who. */
export function grantChangedMessage(grant: GrantItem, change: RuleChange): SlackMessage {
  const now = describeRule(change.rule);
  // The fallback has no `verbatim`: the principal comes from AWS, so nothing in it is left linkable.
  const text = plainLiteral(
    escapeMrkdwn(
      `Your grant ${grant.grantId} (${grantedAccess(grant)} in ${grant.groupId}) has ended: a rule sg-warden made for a grant was changed by ${change.by.id} to ${now}. The rule is now judged like any other; ask for a new grant with /sg-whitelist ${grant.alias}.`,
    ),
  );
  return {
    text,
    blocks: [
      section(
        `:warning: Your grant ${code(grant.grantId)} (${literal(grantedAccess(grant))} in ${code(grant.groupId)}) has ended: a rule sg-warden made for a grant was changed by ${code(change.by.id)}.\nThe rule ${code(change.rule.ruleId ?? 'unknown')} is now ${code(now)}, and is judged like any other rule (the alert channel decides about it). Ask for a new grant with \`/sg-whitelist ${literal(grant.alias)} <ip|me>\`.`,
      ),
    ],
  };
}

/** Tells a grant's owner, by direct message, that the grant ended because its rule was changed. */
export class SlackGrantChangeNotifier implements GrantChangeNotifier {
  private readonly client: () => Promise<WebClient>;

  constructor(options: { client: () => Promise<WebClient> }) {
    this.client = options.client;
  }

  async grantEndedByChange(grant: GrantItem, change: RuleChange): Promise<void> {
    await (await this.client()).chat.postMessage({
      channel: grant.userId,
      ...grantChangedMessage(grant, change),
      unfurl_links: false,
    });
  }
}
