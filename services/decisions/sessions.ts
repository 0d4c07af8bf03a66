import type { AuditActor } from '../kernel/audit';
import { keys } from '../kernel/state';
import type { SessionDeps } from '../sessions/deps';
import { endSessions, type SessionsStart } from '../sessions/end';
import { type ConnectionTracking, connectionTracking, isWorldOpen } from '../sessions/tracking';
import { describeError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { RuleFacts } from '../shared/model';
import type { AwsTarget, SecurityGroupReader } from '../shared/ports';
import type { AlertItem, ViolationItem } from '../violations/items';
import type { DecisionDeps } from './deps';

/** Whether `trackingAtRevoke` needs the group's rules (only for a rule open to 0.0.0.0/0 or ::/0). */
export function needsGroupRules(rule: RuleFacts): boolean {
  return isWorldOpen(rule);
}

/**
 * Whether the connections the rule let in outlive its revoke, from the group's rules as EC2 has them
 * right before the revoke (one DescribeSecurityGroupRules, only for a rule open to 0.0.0.0/0 or ::/0: any
 * other rule's flows are tracked whatever the rest of the group says). `groupRules`: that read, when the
 * revoke's own check of the rule in EC2 already made it.
 */
export async function trackingAtRevoke(
  deps: { ec2: Pick<SecurityGroupReader, 'describeGroupRules'>; logger: Logger },
  target: AwsTarget,
  rule: RuleFacts,
  groupRules?: readonly RuleFacts[],
): Promise<ConnectionTracking> {
  if (!needsGroupRules(rule)) return connectionTracking(rule, []);
  if (groupRules) return connectionTracking(rule, groupRules);
  try {
    return connectionTracking(rule, await deps.ec2.describeGroupRules(target, rule.groupId));
  } catch (error) {
    deps.logger.warn({ groupId: rule.groupId, err: describeError(error) }, 'group rules unreadable');
    return connectionTracking(rule, null);
  }
}

/**
 * `policy.endSessionsOnRevoke`: after a violation's rule was revoked, the one end-sessions command for its
 * source and ports on the group's SSM-managed instances, counted in the alert's thread. Not sent where
 * there is nothing it could end: an egress rule, a source that is a group or prefix list (no address), a
 * rule without TCP, or TCP flows AWS did not track (removing the rule already cut them). For a rule open
 * to 0.0.0.0/0 or ::/0 it ends every established connection to those ports, whoever made it.
 */
export async function endViolationSessions(
  deps: Pick<DecisionDeps, 'config'> & SessionDeps,
  v: ViolationItem,
  rule: RuleFacts,
  tracking: ConnectionTracking | null,
  by: AuditActor,
): Promise<SessionsStart | null> {
  if (!deps.config.policy.endSessionsOnRevoke) return null;
  const hasAddress = rule.sourceKind === 'ipv4' || rule.sourceKind === 'ipv6';
  const protocol = String(rule.protocol);
  const hasTcp = protocol === 'tcp' || protocol === 'all' || protocol === '6' || protocol === '-1';
  if (rule.direction !== 'ingress' || !hasAddress || !hasTcp || tracking?.untracked.includes('tcp')) {
    deps.logger.info(
      { violationId: v.violationId, direction: rule.direction, source: rule.sourceKind, protocol },
      'no sessions to end for this rule',
    );
    return null;
  }
  const alert = await deps.store.get<AlertItem>(keys.alert(v.alertId)).catch(() => null);
  const ref = alert?.channel && alert.ts ? { channel: alert.channel, ts: alert.ts } : null;
  return endSessions(deps, {
    subject: { id: v.violationId, type: 'violation' },
    by,
    account: v.account,
    region: v.region,
    groupId: rule.groupId,
    source: { cidr: rule.source, protocol, fromPort: rule.fromPort, toPort: rule.toPort },
    notify: { kind: 'thread', ref },
  });
}
