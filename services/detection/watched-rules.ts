import { type RuleFacts, type SgEvent, sameRuleContent } from '../shared/model';
import type { AwsTarget, SecurityGroupReader } from '../shared/ports';
import type { CheckedRule } from './rules';

/** A group's default egress rule as EC2 makes it: all traffic to anywhere (IPv4, and IPv6 in a dual-stack VPC). */
export function isDefaultEgress(rule: RuleFacts): boolean {
  return (
    rule.direction === 'egress' &&
    rule.protocol === 'all' &&
    (rule.source === '0.0.0.0/0' || rule.source === '::/0')
  );
}

/**
 * The rules a call that adds no rule still puts in front of sg-warden, as EC2 has them now:
 * - UpdateSecurityGroupRuleDescriptions*: the rules whose description changed (by rule ID, or by content
 *   for the older form), so a rule is judged by what it lets through and by the table's record of
 *   sg-warden's own rules, never by a description that reads like a grant's;
 * - CreateSecurityGroup: the new group's default egress rule (only asked for when egress is evaluated).
 * Only rules EC2 has are returned (confirmed): a description or a group that is gone opens nothing.
 */
export async function resolveWatchedRules(
  groups: SecurityGroupReader,
  event: SgEvent,
): Promise<{ rules: CheckedRule[]; mismatched: string[] }> {
  const target: AwsTarget = { account: event.account, region: event.region };
  const mismatched: string[] = [];
  if (!event.groupId) return { rules: [], mismatched };
  if (event.kind === 'create-group') {
    const live = await groups.describeGroupRules(target, event.groupId);
    return { rules: live.filter(isDefaultEgress).map((rule) => ({ rule, confirmed: true })), mismatched };
  }
  const found = new Map<string, RuleFacts>();
  for (const rule of await groups.describeRules(target, event.ruleIds)) {
    if (rule.groupId !== event.groupId) {
      mismatched.push(`${rule.ruleId} is in ${rule.groupId}, not ${event.groupId}`);
      continue;
    }
    if (rule.ruleId) found.set(rule.ruleId, rule);
  }
  if (event.rules.length > 0) {
    const live = await groups.describeGroupRules(target, event.groupId);
    for (const hinted of event.rules) {
      const match = live.find((l) => sameRuleContent(l, hinted));
      if (match?.ruleId) found.set(match.ruleId, match);
    }
  }
  return { rules: [...found.values()].map((rule) => ({ rule, confirmed: true })), mismatched };
}
