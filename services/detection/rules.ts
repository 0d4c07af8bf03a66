import { type RuleFacts, type SgEvent, sameRuleContent } from '../shared/model';
import type { AwsTarget, SecurityGroupReader } from '../shared/ports';

/** A rule an event added or changed, as far as sg-warden could check it in EC2. */
export interface CheckedRule {
  rule: RuleFacts;
  /** EC2, asked in the event's account and region, has the rule as it is here. */
  confirmed: boolean;
}

/**
 * The rules an event added or changed, as EC2 has them now in the event's account and region (the
 * record is only a hint): by rule ID, or for older records (no rule IDs) by matching the group's live
 * rules. A rule EC2 does not have any more is kept as the record says it, unconfirmed (it may have
 * been opened and closed again before the event arrived); a rule EC2 has in another group than the
 * event names is left out as a mismatch.
 */
export async function resolveRules(
  groups: SecurityGroupReader,
  event: SgEvent,
): Promise<{ rules: CheckedRule[]; mismatched: string[] }> {
  const target: AwsTarget = { account: event.account, region: event.region };
  const mismatched: string[] = [];
  const inGroup = (live: RuleFacts) => {
    if (!event.groupId || live.groupId === event.groupId) return true;
    mismatched.push(`${live.ruleId} is in ${live.groupId}, not ${event.groupId}`);
    return false;
  };
  if (event.kind === 'modify') {
    const live = await groups.describeRules(target, event.ruleIds);
    return { rules: live.filter(inGroup).map((rule) => ({ rule, confirmed: true })), mismatched };
  }
  const ids = event.rules.map((r) => r.ruleId).filter((id): id is string => id !== null);
  const byId = new Map((await groups.describeRules(target, ids)).map((r) => [r.ruleId, r]));
  let groupRules: RuleFacts[] | null = null;
  const rules: CheckedRule[] = [];
  for (const r of event.rules) {
    if (r.ruleId) {
      const live = byId.get(r.ruleId);
      if (!live) rules.push({ rule: r, confirmed: false });
      else if (inGroup(live))
        rules.push({ rule: { ...live, description: live.description ?? r.description }, confirmed: true });
      continue;
    }
    if (!event.groupId) continue;
    groupRules ??= await groups.describeGroupRules(target, event.groupId);
    const match = groupRules.find((l) => sameRuleContent(l, r));
    if (match)
      rules.push({ rule: { ...match, description: match.description ?? r.description }, confirmed: true });
  }
  return { rules, mismatched };
}
