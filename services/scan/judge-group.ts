import type { Config } from '../config/config';
import { isWatchedTagKey } from '../detection/policy';
import { judge, prefixListsFor, screenRule } from '../detection/screen';
import { tagSettersFor } from '../detection/tags';
import type { StateStore } from '../kernel/state';
import type { Finding, RuleFacts } from '../shared/model';
import type { AccountScope, AwsTarget, GroupInfo, PrefixListReader } from '../shared/ports';
import type { ExceptionItem } from '../violations/items';

/** What the scan makes of one group's rules: the findings, and the violating rules left out with why. */
export interface GroupJudgement {
  findings: Finding[];
  skipped: { ruleId: string | null; why: string }[];
  /** The exceptions of violating rules left out as kept (the scan's re-grade reads what they were granted at). */
  kept: ExceptionItem[];
}

/**
 * Judges one group's live rules as event detection judges an event's: the policy decides (prefix lists by
 * their entries, the group's tags, an exemption tag only when a trusted tagger set it, no principal: the
 * scan has no CloudTrail event), then sg-warden's own records leave out its own rules (still as a grant
 * made them) and kept rules, and say first when a rule a grant made was changed. The records are read only
 * for violating rules, so a clean rule costs no read of the table (nor do the tags' setters: they are read
 * only when a violating rule's group carries an exemption tag). `state` null (the CLI): the policy alone,
 * without the table's records (so no exemption tag counts: who set it is on record only there).
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
  const kept: ExceptionItem[] = [];
  if (rules.length === 0) return { findings: [], skipped, kept };
  const lists = await prefixListsFor(deps.prefixLists, target, rules);
  if (lists.unreadable)
    skipped.push({ ruleId: null, why: `prefix list entries unreadable: ${lists.unreadable}` });
  const candidates = rules.map((rule) => ({ rule, leading: [], trailing: [] }));
  const context = { actor: null, groupTags: group.tags, prefixLists: lists.entries };
  // Without the setters no exemption tag counts: judged first so, the setters are read only when it matters.
  let judged = judge(candidates, policy, context);
  if (!deps.state) return { findings: judged, skipped, kept };
  if (judged.length > 0 && Object.keys(group.tags ?? {}).some((key) => isWatchedTagKey(policy, key))) {
    const tagSetters = await tagSettersFor(deps.state.store, policy, target, group.groupId, group.tags);
    judged = judge(candidates, policy, { ...context, tagSetters });
  }
  const origin = { account: target.account, region: target.region, actor: null };
  const findings: Finding[] = [];
  for (const f of judged) {
    const screened = await screenRule(deps.state, origin, f.rule, now);
    if (screened.kind !== 'evaluate') {
      skipped.push({ ruleId: f.rule.ruleId, why: screened.why });
      if (screened.kind === 'kept') kept.push(screened.exception);
      continue;
    }
    findings.push({ ...f, reasons: [...screened.leading, ...f.reasons] });
  }
  return { findings, skipped, kept };
}
