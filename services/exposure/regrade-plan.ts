import { type AuditEntry, auditEntry, SYSTEM_ACTOR } from '../kernel/audit';
import { keys, type Transition } from '../kernel/state';
import { step } from '../kernel/step';
import { plusSeconds } from '../kernel/time';
import type { Actor, Finding } from '../shared/model';
import { SEVERITIES, type Severity } from '../shared/model';
import { newViolation } from '../violations/factory';
import type { AlertItem, ExceptionItem, ViolationItem } from '../violations/items';
import type { ExposureClass } from './classify';
import type { ExposureChange, ViolationExposure } from './grade';

/**
 * The re-grade's pure core: whether a group's exposure rose or fell, and given what was read, the
 * conditional write for a pending violation, the end of an exception granted below `internet` with the rule
 * asked again in its thread, and the alert for violating rules that had no open record. No I/O.
 */

/** What a change was, and who made it (a CloudTrail call; the scan passes its own). */
export interface RegradeCause {
  eventId: string;
  /** The call ("AssociateAddress"), or what found it ("Reconciliation scan"). */
  eventName: string;
  /** When it was made (ISO). */
  eventTime: string;
  /** The principal that made it; null when not known (the scan). */
  actor: Actor | null;
  /** The actor as people read it ("alice"); "someone" when not known. */
  byName: string;
  /** What it did, after the name: "associated 3.248.1.9 with i-0abc". */
  what: string;
}

const RANK: Record<Exclude<ExposureClass, 'unknown'>, number> = { unattached: 0, internal: 1, internet: 2 };

/**
 * Which way the exposure moved from `before` to `now`: `rose` (unattached → internal → internet; from
 * nothing recorded or `unknown` only to `internet`), `fell`, or `same`. A class that could not be read
 * (`unknown`) now moves nothing.
 */
export function exposureMove(before: ExposureClass | null, now: ExposureClass): 'rose' | 'fell' | 'same' {
  if (now === 'unknown') return 'same';
  if (before === null || before === 'unknown') return now === 'internet' ? 'rose' : 'same';
  if (RANK[now] > RANK[before]) return 'rose';
  return RANK[now] < RANK[before] ? 'fell' : 'same';
}

/** The change as a violation keeps it. */
export function changeFor(
  cause: RegradeCause,
  before: ExposureClass | null,
  now: { exposure: ExposureClass; reason: string },
  direction: ExposureChange['direction'],
): ExposureChange {
  return {
    direction,
    from: before,
    to: now.exposure,
    reason: now.reason,
    since: cause.eventTime,
    by: cause.byName,
    what: cause.what,
    eventId: cause.eventId,
  };
}

const higher = (a: Severity, b: Severity): Severity =>
  SEVERITIES.indexOf(a) <= SEVERITIES.indexOf(b) ? a : b;

/** The earlier of two deadlines (null: none). */
function earlier(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return Date.parse(a) <= Date.parse(b) ? a : b;
}

function details(cause: RegradeCause, change: ExposureChange): Record<string, unknown> {
  return {
    foundBy: 'exposure-change',
    cause: cause.eventId,
    causeName: cause.eventName,
    causeBy: cause.actor?.arn ?? null,
    what: cause.what,
    exposureFrom: change.from,
    exposure: change.to,
    exposureReason: change.reason,
  };
}

/**
 * A pending violation after its group's exposure changed: when it rose, the severity and deadline the
 * graded finding gives, never lower or later than they are (and never from enforced to dry run), with the
 * exposure, the reasons and the change recorded; when it fell, only the change is noted (nothing relaxes).
 * Null when the class did not move. Conditional on the violation's version: a decision taken meanwhile wins.
 */
export function planPendingRegrade(
  v: ViolationItem,
  graded: { finding: Finding; exposure: ViolationExposure },
  cause: RegradeCause,
  now: Date,
): Transition | null {
  const before = v.exposure?.exposure ?? null;
  const move = exposureMove(before, graded.exposure.exposure);
  if (move === 'same') return null;
  const change = changeFor(cause, before, graded.exposure, move);
  const at = now.toISOString();
  const keepDue = v.dueKind && v.dueAt ? { kind: v.dueKind, at: v.dueAt } : null;
  if (move === 'fell') {
    return step(v, {
      to: 'PENDING',
      action: 'regrade',
      by: SYSTEM_ACTOR,
      at,
      due: keepDue,
      set: { exposureChange: change },
      details: { ...details(cause, change), note: 'exposure fell: nothing is relaxed' },
    });
  }
  const f = graded.finding;
  const severity = higher(v.severity, f.severity);
  const candidate =
    f.action === 'alert' && f.timeoutSeconds !== null ? plusSeconds(now, f.timeoutSeconds) : null;
  const deadline = earlier(v.deadline, candidate);
  return step(v, {
    to: 'PENDING',
    action: 'regrade',
    by: SYSTEM_ACTOR,
    at,
    due: deadline ? { kind: 'DEADLINE', at: deadline } : keepDue,
    set: {
      severity,
      deadline,
      action: deadline ? 'alert' : v.action,
      dryRun: v.dryRun && f.dryRun,
      reasons: f.reasons,
      exposure: graded.exposure,
      exposureChange: change,
    },
    details: {
      ...details(cause, change),
      severityFrom: v.severity,
      severity,
      deadlineFrom: v.deadline,
      deadline,
    },
  });
}

/** The exposure an exception was granted at: its own record, else what its kept violation showed. */
export function grantedExposure(ex: ExceptionItem, kept: ViolationItem | null): ExposureClass | null {
  if (ex.grantedAt) return ex.grantedAt.exposure;
  return kept?.exposure?.exposure ?? null;
}

/** Whether an exception must end now: the group is reachable from the internet, and it was granted below. */
export function endsException(granted: ExposureClass | null, now: ExposureClass): boolean {
  return now === 'internet' && granted !== 'internet';
}

const UNKNOWN_ACTOR: Actor = {
  arn: 'unknown',
  type: 'Unknown',
  roleArn: null,
  invokedBy: null,
  sourceIp: null,
  userAgent: null,
};

/** An alert for rules raised by an exposure change (new, or a kept rule asked again), due to be posted. */
function changeAlert(
  alertId: string,
  target: { account: string; region: string },
  group: { groupId: string; groupName: string | null },
  cause: RegradeCause,
  nowIso: string,
  extra: Partial<AlertItem> = {},
): AlertItem & Record<string, unknown> {
  return {
    ...keys.alert(alertId),
    type: 'alert',
    status: 'UNNOTIFIED',
    version: 1,
    alertId,
    eventId: cause.eventId,
    eventName: cause.eventName,
    eventTime: cause.eventTime,
    region: target.region,
    account: target.account,
    groupId: group.groupId,
    groupName: group.groupName,
    actor: cause.actor ?? UNKNOWN_ACTOR,
    violationIds: [],
    notifyAttempts: 0,
    createdAt: nowIso,
    dueKind: 'NOTIFY',
    dueAt: nowIso,
    ...extra,
  };
}

/** What raising rules creates: an alert, its violations and the audit entries of both. */
export interface Raising {
  alert: AlertItem;
  violations: ViolationItem[];
  audits: AuditEntry[];
}

function raisedAudits(
  alert: AlertItem,
  violations: ViolationItem[],
  action: string,
  extra: Record<string, unknown>,
): AuditEntry[] {
  return [
    ...violations.map((v) =>
      auditEntry({ id: v.violationId, type: 'violation' }, SYSTEM_ACTOR, {
        action,
        fromState: null,
        toState: 'PENDING',
        result: 'ok',
        details: {
          ...extra,
          severity: v.severity,
          ...(v.exposure
            ? { exposure: v.exposure.exposure, severityBeforeExposure: v.exposure.from ?? v.severity }
            : {}),
          deadline: v.deadline,
          rule: v.rule,
        },
        at: alert.createdAt,
      }),
    ),
    auditEntry({ id: alert.alertId, type: 'alert' }, SYSTEM_ACTOR, {
      action,
      fromState: null,
      toState: 'UNNOTIFIED',
      result: 'ok',
      details: { ...extra, violations: alert.violationIds },
      at: alert.createdAt,
    }),
  ];
}

/**
 * The rule of an exception that ended because its group became reachable from the internet, asked again in
 * the thread of the message where it was kept: a fresh PENDING violation, graded by the exposure now, that
 * names the change and who made it. IDs derive from the exception's version: a re-run creates nothing new.
 */
export function planExposureReask(
  ex: ExceptionItem,
  kept: ViolationItem | null,
  graded: { finding: Finding; exposure: ViolationExposure },
  cause: RegradeCause,
  nowIso: string,
): Raising {
  const granted = grantedExposure(ex, kept);
  const change = changeFor(cause, granted, graded.exposure, 'rose');
  const thread = kept?.channel && kept.ts ? { channel: kept.channel, ts: kept.ts } : undefined;
  const alertFields = changeAlert(
    `regrade-${ex.violationId}-${ex.version}`,
    ex,
    { groupId: ex.rule.groupId, groupName: kept?.groupName ?? null },
    cause,
    nowIso,
    { reopenedFrom: ex.violationId, ...(thread ? { thread } : {}) },
  );
  const violation: ViolationItem = {
    ...newViolation(alertFields, graded.finding, {
      index: 0,
      groupName: alertFields.groupName,
      now: nowIso,
      previousKeep: { byName: ex.approvedByName, until: ex.expiresAt, grantedAt: granted, endedBy: change },
      exposure: graded.exposure,
    }),
    exposureChange: change,
  };
  const alert: AlertItem = { ...alertFields, violationIds: [violation.violationId] };
  return {
    alert,
    violations: [violation],
    audits: raisedAudits(alert, [violation], 'reopen', {
      ...details(cause, change),
      reopenedFrom: ex.violationId,
      exception: ex.fingerprint,
      grantedAt: granted,
    }),
  };
}

/** An exception granted below `internet` ends at once (→ EXPIRED), naming the change and the re-ask. */
export function planExceptionEnd(
  ex: ExceptionItem,
  reask: Raising,
  cause: RegradeCause,
  now: Date,
): Transition {
  const violation = reask.violations[0]!;
  const change = violation.exposureChange!;
  return step(ex, {
    to: 'EXPIRED',
    action: 'expire',
    by: SYSTEM_ACTOR,
    at: now.toISOString(),
    due: null,
    set: { endedEarly: { at: now.toISOString(), reopenedAs: violation.violationId, cause: cause.eventId } },
    details: {
      ...details(cause, change),
      exception: ex.fingerprint,
      keptUntil: ex.expiresAt,
      approvedBy: ex.approvedBy,
      grantedAt: change.from,
      reopenedAs: violation.violationId,
      note: `ended early: the group became reachable from the internet (granted at ${change.from ?? 'an exposure not recorded'})`,
    },
  });
}

/**
 * Violating rules of a group that had no open record (nothing pending, nothing kept), raised now because
 * its exposure rose: one alert for the group and the change. The alert's ID derives from the group and the
 * version of the group's exposure record (`markerVersion`), so a redelivered event, or two events racing
 * for one rise, raise them once.
 */
export function planUnrecordedRaise(
  target: { account: string; region: string },
  group: { groupId: string; groupName: string | null },
  graded: readonly { finding: Finding; exposure: ViolationExposure }[],
  cause: RegradeCause,
  before: ExposureClass | null,
  markerVersion: number,
  nowIso: string,
): Raising | null {
  if (graded.length === 0) return null;
  const first = graded[0]!;
  const change = changeFor(cause, before, first.exposure, 'rose');
  const alertFields = changeAlert(
    `regrade-${target.account}-${target.region}-${group.groupId}-${markerVersion}`,
    target,
    group,
    cause,
    nowIso,
  );
  const violations = graded.map(
    (g, index): ViolationItem => ({
      ...newViolation(alertFields, g.finding, {
        index,
        groupName: group.groupName,
        now: nowIso,
        exposure: g.exposure,
      }),
      exposureChange: change,
    }),
  );
  const alert: AlertItem = { ...alertFields, violationIds: violations.map((v) => v.violationId) };
  return { alert, violations, audits: raisedAudits(alert, violations, 'detect', details(cause, change)) };
}
