import type { Config } from '../config/config';
import { type Candidate, judge, prefixListsFor, screenRule } from '../detection/screen';
import type { StateStore } from '../kernel/state';
import type { Finding, RuleFacts } from '../shared/model';
import type { AccountScope, AwsTarget, GroupInfo, PrefixListReader } from '../shared/ports';

/** What the scan makes of one group's rules: the findings, and the rules left out with why. */
export interface GroupJudgement {
  findings: Finding[];
  skipped: { ruleId: string | null; why: string }[];
}

/**
 * Judges one group's live rules exactly as event detection judges an event's: sg-warden's own rules (still
 * as a grant made them) and kept rules are left out, prefix lists are judged by their entries, and the
 * policy decides, with no principal (the scan has no CloudTrail event). `state` null (the CLI): the
 * policy alone, without the table's own-rule records and exceptions.
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
  const candidates: Candidate[] = [];
  const origin = { account: target.account, region: target.region, actor: null };
  for (const rule of rules) {
    if (deps.state) {
      const screened = await screenRule(deps.state, origin, rule, now);
      if (screened.kind !== 'evaluate') {
        skipped.push({ ruleId: rule.ruleId, why: screened.why });
        continue;
      }
      candidates.push({ rule, leading: screened.leading, trailing: [] });
    } else {
      candidates.push({ rule, leading: [], trailing: [] });
    }
  }
  if (candidates.length === 0) return { findings: [], skipped };
  const lists = await prefixListsFor(
    deps.prefixLists,
    target,
    candidates.map((c) => c.rule),
  );
  if (lists.unreadable)
    skipped.push({ ruleId: null, why: `prefix list entries unreadable: ${lists.unreadable}` });
  const findings = judge(candidates, policy, {
    actor: null,
    groupTags: group.tags,
    prefixLists: lists.entries,
  });
  return { findings, skipped };
}
