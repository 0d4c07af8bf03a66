import type { GrantItem } from '../grants/items';
import type { Direction } from '../shared/model';
import type { AwsTarget } from '../shared/ports';
import type { ViolationItem } from '../violations/items';
import type { BackstopSchedule } from './ports';

/**
 * The backstop's pure core: which items get a schedule, its name, its time and its target. No I/O.
 */

/** A rule that is due to go, with its deadline or expiry: what a backstop is made from. */
export interface DueRule {
  kind: 'grant' | 'violation';
  /** The grant's or violation's ID (the audit subject). */
  id: string;
  target: AwsTarget;
  groupId: string;
  ruleId: string;
  direction: Direction;
  /** The deadline or expiry (ISO). */
  dueAt: string;
}

/** A grant's rule, once it is ACTIVE with a rule ID. */
export function dueGrant(grant: GrantItem, expiresAt = grant.expiresAt): DueRule | null {
  if (!grant.ruleId) return null;
  return {
    kind: 'grant',
    id: grant.grantId,
    target: { account: grant.account, region: grant.region },
    groupId: grant.groupId,
    ruleId: grant.ruleId,
    direction: 'ingress',
    dueAt: expiresAt,
  };
}

/**
 * A violation's rule, when the clock will revoke it: a deadline, not a dry run nor notify-only, and a
 * rule ID to name (a schedule revokes by ID only; a rule without one is left to the sweeper).
 */
export function dueViolation(v: ViolationItem): DueRule | null {
  if (!v.deadline || v.dryRun || v.action !== 'alert' || !v.rule.ruleId) return null;
  return {
    kind: 'violation',
    id: v.violationId,
    target: { account: v.account, region: v.region },
    groupId: v.rule.groupId,
    ruleId: v.rule.ruleId,
    direction: v.rule.direction,
    dueAt: v.deadline,
  };
}

/** EventBridge Scheduler's limits on a schedule name: 1–64 of letters, digits, `-`, `_`, `.`. */
const NAME_CHARS = /[^0-9A-Za-z_.-]/g;

/** The schedule's name: `sgw-<stage>-<item ID>`, the same for the same item (idempotent under retries). */
export function scheduleName(stage: string, itemId: string): string {
  const safeStage = stage.replace(NAME_CHARS, '-').slice(0, 24) || 'stage';
  return `sgw-${safeStage}-${itemId.replace(NAME_CHARS, '-')}`.slice(0, 64);
}

/** The item ID a schedule name stands for (`g-…` or `v-…`), or null when it is not one of sg-warden's. */
export function itemOfScheduleName(name: string): { kind: 'grant' | 'violation'; id: string } | null {
  const match = /^sgw-[0-9A-Za-z_.-]+?-((g|v)-[0-9a-z]+)$/.exec(name);
  if (!match) return null;
  return { kind: match[2] === 'g' ? 'grant' : 'violation', id: match[1]! };
}

/** The least time between now and a schedule's firing: a one-time schedule in the past would never fire. */
export const MIN_LEAD_SECONDS = 60;

/** When the schedule fires: the due time plus the grace, never sooner than a minute from now; whole seconds. */
export function fireAt(dueAt: string, graceSeconds: number, now: Date): string {
  const due = Date.parse(dueAt) + graceSeconds * 1000;
  const earliest = now.getTime() + MIN_LEAD_SECONDS * 1000;
  return new Date(Math.ceil(Math.max(due, earliest) / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** The schedule for a due rule. */
export function planSchedule(
  rule: DueRule,
  stage: string,
  graceSeconds: number,
  now: Date,
): BackstopSchedule {
  return {
    name: scheduleName(stage, rule.id),
    target: rule.target,
    at: fireAt(rule.dueAt, graceSeconds, now),
    groupId: rule.groupId,
    ruleId: rule.ruleId,
    direction: rule.direction,
    description: `sg-warden backstop: revoke ${rule.ruleId} (${rule.kind} ${rule.id}, due ${rule.dueAt}) if still there`,
  };
}

/** `at(2026-11-03T10:15:00)`: Scheduler's one-time expression (read in UTC, set on the schedule). */
export function atExpression(at: string): string {
  return `at(${at.slice(0, 19)})`;
}

/** EC2's action for the rule's direction, as the universal target names it. */
export function revokeAction(
  direction: Direction,
): 'revokeSecurityGroupIngress' | 'revokeSecurityGroupEgress' {
  return direction === 'ingress' ? 'revokeSecurityGroupIngress' : 'revokeSecurityGroupEgress';
}

/** The universal target that revokes: `arn:aws:scheduler:::aws-sdk:ec2:<action>`. */
export function universalTargetArn(direction: Direction, partition = 'aws'): string {
  return `arn:${partition}:scheduler:::aws-sdk:ec2:${revokeAction(direction)}`;
}

/** The request the target sends to EC2: exactly the API's own parameters, one rule by ID. */
export function revokeInput(schedule: Pick<BackstopSchedule, 'groupId' | 'ruleId'>): string {
  return JSON.stringify({ GroupId: schedule.groupId, SecurityGroupRuleIds: [schedule.ruleId] });
}
