import type { ViolationExposure } from '../exposure/grade';
import { keys } from '../kernel/state';
import { plusSeconds } from '../kernel/time';
import { violationIdFor } from '../shared/ids';
import type { Finding } from '../shared/model';
import type { AlertItem, ViolationItem } from './items';

/** The alert facts a new violation copies: which event, where, by whom. */
export type ViolationOrigin = Pick<
  AlertItem,
  'alertId' | 'eventId' | 'region' | 'account' | 'actor' | 'eventTime' | 'route'
>;

/**
 * A new PENDING violation for one finding of an alert: its ID derived from the alert and the rule (so a
 * re-run creates nothing new), and — when the finding is to be revoked in time — its deadline, due then.
 */
export function newViolation(
  alert: ViolationOrigin,
  finding: Finding,
  options: {
    /** The finding's position in its alert (part of the ID when the rule has no rule ID). */
    index: number;
    groupName: string | null;
    /** Creation time (ISO); the deadline counts from it. */
    now: string;
    /** Reasons shown to people; default: the finding's own. */
    reasons?: string[];
    /** A re-ask: who kept the rule until when (the alert shows it as a date, like every message). */
    previousKeep?: ViolationItem['previousKeep'];
    /** The group's exposure when it was raised (the finding is already graded by it). */
    exposure?: ViolationExposure;
  },
): ViolationItem {
  const violationId = violationIdFor(alert.alertId, finding.rule, options.index);
  const deadline =
    finding.action === 'alert' && finding.timeoutSeconds !== null
      ? plusSeconds(options.now, finding.timeoutSeconds)
      : null;
  return {
    ...keys.violation(violationId),
    type: 'violation',
    status: 'PENDING',
    version: 1,
    violationId,
    alertId: alert.alertId,
    eventId: alert.eventId,
    region: alert.region,
    account: alert.account,
    groupId: finding.rule.groupId,
    groupName: options.groupName,
    rule: finding.rule,
    severity: finding.severity,
    reasons: options.reasons ?? finding.reasons,
    ...(options.previousKeep ? { previousKeep: options.previousKeep } : {}),
    ...(options.exposure ? { exposure: options.exposure } : {}),
    // Who may decide it comes from the route its alert took, as stored now (never from a button).
    ...(alert.route !== undefined ? { route: alert.route } : {}),
    action: finding.action,
    dryRun: finding.dryRun,
    actor: alert.actor,
    eventTime: alert.eventTime,
    createdAt: options.now,
    deadline,
    revokeAttempts: 0,
    ...(deadline ? { dueKind: 'DEADLINE' as const, dueAt: deadline } : {}),
  } satisfies ViolationItem & Record<string, unknown>;
}
