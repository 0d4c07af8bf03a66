import type { Config } from '../config/config';
import { judge, prefixListsFor, screenRule } from '../detection/screen';
import type { StateStore } from '../kernel/state';
import type { Finding, RuleFacts } from '../shared/model';
import type { AccountScope, AwsTarget, GroupInfo, PrefixListReader } from '../shared/ports';

/** What the scan makes of one group's rules: the findings, and the violating rules left out with why. */
export interface GroupJudgement {
  findings: Finding[];
  skipped: { ruleId: string | null; why: string }[];
}

/**
 * Judges one group's live rules as event detection judges an event's: the policy decides (prefix lists by
 * their entries, the group's tags, no principal: the scan has no CloudTrail event), then sg-warden's own
 * records leave out its own rules (still as a grant made them) and kept rules, and say first when a rule a
 * grant made was changed. The records are read only for violating rules, so a clean rule costs no read of
 * the table. `state` null (the CLI): the policy alone, without the table's records.
 */
export async function judgeGroup(
  deps: { state: { store: StateStore; accounts: AccountScope } | null; prefixLists: PrefixListReader },
  policy: Config['policy'],
  target: AwsTarget,
  group: GroupInfo,
  rules: readonly RuleFacts[],
  now: Date,
): Promise<GroupJudgement> {
  const skipped: GroupJudgement['skipped'] = [];
  if (rules.length === 0) return { findings: [], skipped };
  const lists = await prefixListsFor(deps.prefixLists, target, rules);
  if (lists.unreadable)
    skipped.push({ ruleId: null, why: `prefix list entries unreadable: ${lists.unreadable}` });
  const judged = judge(
    rules.map((rule) => ({ rule, leading: [], trailing: [] })),
    policy,
    { actor: null, groupTags: group.tags, prefixLists: lists.entries },
  );
  if (!deps.state) return { findings: judged, skipped };
  const origin = { account: target.account, region: target.region, actor: null };
  const findings: Finding[] = [];
  for (const f of judged) {
    const screened = await screenRule(deps.state, origin, f.rule, now);
    if (screened.kind !== 'evaluate') {
      skipped.push({ ruleId: f.rule.ruleId, why: screened.why });
      continue;
    }
    findings.push({ ...f, reasons: [...screened.leading, ...f.reasons] });
  }
  return { findings, skipped };
}
