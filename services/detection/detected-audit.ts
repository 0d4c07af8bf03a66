import type { AuditEntry } from '../kernel/audit';
import type { ViolationItem } from '../violations/items';
import { principalName } from './principal-name';

/**
 * The audit entry of a violation detection raises (from an event's rule, or a watched change such as a
 * tag or a prefix list: `extra` says which): who, what, how severe and why, its deadline and route.
 */
export function detectedAudit(
  v: ViolationItem,
  now: string,
  extra: Record<string, unknown> = {},
): AuditEntry {
  return {
    subjectId: v.violationId,
    subjectType: 'violation',
    action: 'detect',
    fromState: null,
    toState: 'PENDING',
    actorType: 'aws-principal',
    actorId: v.actor.arn,
    actorName: principalName(v.actor.arn),
    result: 'ok',
    details: {
      eventId: v.eventId,
      severity: v.severity,
      ...(v.exposure
        ? { exposure: v.exposure.exposure, severityBeforeExposure: v.exposure.from ?? v.severity }
        : {}),
      rule: v.rule,
      reasons: v.reasons,
      deadline: v.deadline,
      dryRun: v.dryRun,
      sourceIp: v.actor.sourceIp,
      route: v.route ?? null,
      ...extra,
    },
    at: now,
  };
}
