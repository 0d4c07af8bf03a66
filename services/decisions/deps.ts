import type { SlackUserLookup } from '../actors/ports';
import { evaluateRule } from '../detection/policy';
import { tagSettersFor } from '../detection/tags';
import type { ExposureLookup } from '../exposure/lookup';
import { keys } from '../kernel/state';
import type { SessionPorts } from '../sessions/deps';
import { describeError } from '../shared/errors';
import { ruleFingerprint } from '../shared/ids';
import { type Finding, type RuleFacts, sameRuleContent } from '../shared/model';
import type { Directory } from '../shared/people';
import type { AwsTarget, RuleRemover, SecurityGroupReader } from '../shared/ports';
import type { AlertDeps } from '../violations/alerts';
import type { ExceptionItem, ViolationItem } from '../violations/items';

/** What the decision service works with (the Slack wiring satisfies it). */
export interface DecisionDeps extends AlertDeps {
  ec2: SecurityGroupReader & RuleRemover;
  directory: Directory;
  /** Looks the group's exposure up again before an auto-revoke (one per sweep); unset: not looked up. */
  exposure?: ExposureLookup;
  /** Run Command for `policy.endSessionsOnRevoke`; absent: sessions are not ended in this process. */
  sessions?: SessionPorts;
  /** Finds a change's author in Slack by e-mail, so they can never keep it (absent: the principal map only). */
  users?: SlackUserLookup;
  /**
   * One sweep's groups' tags, each read once (by the first due rule of the group, after its deadline
   * passed), as the exposure is looked up once per group per sweep. Unset: read for every rule.
   */
  sweepGroupTags?: Map<string, Promise<Record<string, string> | null>>;
}

/** A violation as stored now. */
export async function currentViolation(
  deps: Pick<DecisionDeps, 'store'>,
  violationId: string,
): Promise<ViolationItem | null> {
  return deps.store.get<ViolationItem>(keys.violation(violationId));
}

/** The rule as EC2 has it now, or null when it is gone (by rule ID; by content when the ID is unknown). */
export async function readLiveRule(
  groups: SecurityGroupReader,
  target: AwsTarget,
  rule: RuleFacts,
): Promise<RuleFacts | null> {
  if (rule.ruleId) return liveRuleIn(await groups.describeRules(target, [rule.ruleId]), rule);
  return liveRuleIn(await groups.describeGroupRules(target, rule.groupId), rule);
}

/** The rule among rules EC2 returned: by rule ID, or by content when the ID is unknown; null when absent. */
export function liveRuleIn(live: readonly RuleFacts[], rule: RuleFacts): RuleFacts | null {
  if (rule.ruleId) return live.find((r) => r.ruleId === rule.ruleId) ?? null;
  return live.find((r) => r.ruleId && sameRuleContent(r, rule)) ?? null;
}

/** The group's tags as EC2 has them now, or null when they cannot be read. */
export async function liveGroupTags(
  deps: DecisionDeps,
  target: AwsTarget,
  groupId: string,
): Promise<Record<string, string> | null> {
  const memo = deps.sweepGroupTags;
  if (!memo) return readGroupTags(deps, target, groupId);
  const key = `${target.account}/${target.region}/${groupId}`;
  const known = memo.get(key);
  if (known) return known;
  const read = readGroupTags(deps, target, groupId);
  memo.set(key, read);
  // Unreadable (or no such group): the next rule of the group asks EC2 again.
  if ((await read) === null) memo.delete(key);
  return read;
}

async function readGroupTags(
  deps: DecisionDeps,
  target: AwsTarget,
  groupId: string,
): Promise<Record<string, string> | null> {
  try {
    return (await deps.ec2.describeGroup(target, groupId))?.tags ?? null;
  } catch (error) {
    deps.logger.warn({ groupId, err: describeError(error) }, 'group tags unavailable');
    return null;
  }
}

/**
 * Re-evaluates a live rule against the policy with the group's current tags (null tags when unreadable;
 * pass `tags` when they were just read) and who set them: an exemption tag an untrusted caller added
 * does not resolve a violation.
 */
export async function evaluateLive(
  deps: DecisionDeps,
  target: AwsTarget,
  live: RuleFacts,
  actor: ViolationItem['actor'] | null,
  tags?: Record<string, string> | null,
): Promise<Finding | null> {
  const groupTags = tags !== undefined ? tags : await liveGroupTags(deps, target, live.groupId);
  const tagSetters = await tagSettersFor(deps.store, deps.config.policy, target, live.groupId, groupTags);
  return evaluateRule(live, deps.config.policy, { actor, groupTags, tagSetters });
}

/** An ACTIVE, unexpired exception for the rule as it is now, if any. */
export async function activeExceptionFor(
  deps: DecisionDeps,
  v: ViolationItem,
  live: RuleFacts,
): Promise<ExceptionItem | null> {
  const ex = await deps.store.get<ExceptionItem>(keys.exception(ruleFingerprint(v.account, v.region, live)));
  if (ex?.status !== 'ACTIVE') return null;
  return ex.expiresAt === null || new Date(ex.expiresAt) > deps.clock() ? ex : null;
}
