import type { ViolationExposure } from '../exposure/grade';
import { type AuditActor, type AuditEntry, auditEntry, SYSTEM_ACTOR, TIMEOUT_ACTOR } from '../kernel/audit';
import { keys, type Transition } from '../kernel/state';
import { type StepSpec, step } from '../kernel/step';
import { plusSeconds } from '../kernel/time';
import type { RouteChoice } from '../routing/routes';
import { AwsCallError, describeError } from '../shared/errors';
import { ruleFingerprint } from '../shared/ids';
import type { Finding, RuleFacts } from '../shared/model';
import type { Person } from '../shared/people';
import { newViolation } from '../violations/factory';
import type { AlertItem, ExceptionItem, ViolationItem, ViolationStatus } from '../violations/items';
import {
  EXCEPTION_MOVES,
  isGoneError,
  mayHaveApplied,
  REVOKE_LEASE_SECONDS,
  retryBackoffSeconds,
  VIOLATION_MOVES,
  wasRetried,
} from './states';

/**
 * The decision's pure core, part two: given what was read, what to write and what to call. Each plan
 * returns the conditional write (a Transition built by the kernel's `step()` from the item it moves)
 * or the items to create; the orchestration (revoke.ts, keep.ts, exceptions.ts) reads and applies them.
 */

type Move = { readonly from: readonly string[]; readonly to: readonly string[] };

/** `step()`, after checking the move is one the state table allows (a plan asking for another is a bug). */
function move<T extends ViolationItem | ExceptionItem>(item: T, allowed: Move, spec: StepSpec): Transition {
  if (!allowed.from.includes(item.status) || !allowed.to.includes(spec.to))
    throw new Error(`not an allowed move for a ${item.type}: ${item.status} → ${spec.to}`);
  return step(item, spec);
}

// ───────────────────────────── Revoke ─────────────────────────────

/** Claims a violation for a revoke (PENDING or REVOKE_RETRY → REVOKING), with a lease RECONCILE watches. */
export function planRevokeClaim(v: ViolationItem, by: AuditActor, now: Date): Transition {
  return move(v, VIOLATION_MOVES.claim, {
    to: 'REVOKING',
    action: 'revoke-start',
    by,
    at: now.toISOString(),
    set: { revokeBy: by },
    due: { kind: 'RECONCILE', at: plusSeconds(now, REVOKE_LEASE_SECONDS) },
    details: { attempt: v.revokeAttempts + 1, ruleId: v.rule.ruleId },
  });
}

/** Takes over a REVOKING claim whose lease ran out, at the version the sweep saw. */
export function planReconcileClaim(seen: ViolationItem, now: Date): Transition {
  return move(seen, VIOLATION_MOVES.reconcile, {
    to: 'REVOKING',
    action: 'reconcile-start',
    by: SYSTEM_ACTOR,
    at: now.toISOString(),
    due: { kind: 'RECONCILE', at: plusSeconds(now, REVOKE_LEASE_SECONDS) },
    details: { leaseExpiredAt: seen.dueAt ?? null, revokeBy: seen.revokeBy ?? null },
  });
}

/** How a claim ends: the state, what the audit entry says, and what else is recorded. */
export interface Settlement {
  to: ViolationStatus;
  result: 'ok' | 'error';
  error?: string;
  awsRequestId?: string;
  details: Record<string, unknown>;
  /** Attributes beyond who decided and when (a failed attempt's count and error). */
  set?: Record<string, unknown>;
}

/** What the claim's holder found before revoking: the rule now, a Keep that covers it, the policy's verdict. */
export interface RevokeFacts {
  /** The rule as EC2 has it now; null when it is gone. */
  live: RuleFacts | null;
  /** An active exception for the live rule (looked up only for the clock: a person may revoke a kept rule). */
  keptUnder: ExceptionItem | null;
  /** Whether the live rule still breaks the policy. */
  violates: boolean;
}

/** After the reads: end the claim without calling EC2, or revoke this rule. */
export type RevokeStep = { call: 'none'; settle: Settlement } | { call: 'revoke'; rule: RuleFacts };

/** Whether a claim was made for the clock (its revoke ends AUTO_REVOKED, and never touches a kept rule). */
function isClockClaim(claimed: ViolationItem): boolean {
  return (claimed.revokeBy ?? TIMEOUT_ACTOR).type === 'timeout';
}

function revokedState(claimed: ViolationItem): ViolationStatus {
  return isClockClaim(claimed) ? 'AUTO_REVOKED' : 'REVOKED';
}

/**
 * Decides a claim from what EC2 and the table say now: a vanished rule is GONE (or, after a revoke whose
 * answer was lost, revoked); a rule kept under another decision, or that no longer violates, is RESOLVED;
 * a dry run is recorded as DRY_RUN; otherwise the rule is revoked.
 */
export function planRevoke(
  claimed: ViolationItem,
  mode: 'fresh' | 'reconcile',
  facts: RevokeFacts,
): RevokeStep {
  const { live } = facts;
  const settle = (s: Settlement): RevokeStep => ({ call: 'none', settle: s });
  if (!live) {
    // A dry run never revoked anything, so a vanished rule is gone whoever held the claim.
    if ((mode === 'reconcile' || claimed.revokeMayHaveApplied) && !claimed.dryRun) {
      return settle({
        to: revokedState(claimed),
        result: 'ok',
        details: {
          reconciled: true,
          note:
            mode === 'reconcile'
              ? 'the rule is gone after an unfinished revoke: recorded as revoked'
              : 'the rule is gone after a revoke whose answer was lost: recorded as revoked',
        },
      });
    }
    return settle({ to: 'GONE', result: 'ok', details: { note: 'the rule no longer exists in EC2' } });
  }
  const kept = isClockClaim(claimed) ? facts.keptUnder : null;
  if (kept) {
    // Another alert about the same rule may have been kept meanwhile: the clock never revokes a kept rule.
    return settle({
      to: 'RESOLVED',
      result: 'ok',
      details: {
        note: 'the rule is kept under another decision',
        exception: kept.fingerprint,
        keptBy: kept.approvedBy,
        keptUntil: kept.expiresAt,
        keptViolation: kept.violationId,
      },
    });
  }
  if (!facts.violates) {
    return settle({
      to: 'RESOLVED',
      result: 'ok',
      details: { note: 'the rule changed and no longer violates the policy', liveRule: live },
    });
  }
  if (claimed.dryRun) {
    return settle({
      to: 'DRY_RUN',
      result: 'ok',
      details: { note: 'dry run: would have revoked this rule', wouldRevoke: live.ruleId, rule: live },
    });
  }
  return { call: 'revoke', rule: live };
}

/** EC2's answer to the revoke call, as a settlement: revoked, gone, or a failed attempt. */
export function planRevokeAnswer(
  claimed: ViolationItem,
  mode: 'fresh' | 'reconcile',
  rule: RuleFacts,
  answer: { requestId: string | null } | { error: unknown },
  maxAttempts: number,
): Settlement {
  if (!('error' in answer)) {
    return {
      to: revokedState(claimed),
      result: 'ok',
      ...(answer.requestId ? { awsRequestId: answer.requestId } : {}),
      details: {
        ruleId: rule.ruleId,
        groupId: rule.groupId,
        ...(mode === 'reconcile' ? { reconciled: true } : {}),
      },
    };
  }
  const { error } = answer;
  const requestId = error instanceof AwsCallError && error.requestId ? { awsRequestId: error.requestId } : {};
  if (isGoneError(error) && wasRetried(error) && !claimed.dryRun) {
    // The SDK sent the call again after getting no answer: the first try removed the rule.
    return {
      to: revokedState(claimed),
      result: 'ok',
      ...requestId,
      details: {
        ruleId: rule.ruleId,
        groupId: rule.groupId,
        reconciled: true,
        note: 'EC2 said the rule was gone when the call was retried: the first try removed it',
      },
    };
  }
  if (isGoneError(error)) {
    return {
      to: 'GONE',
      result: 'ok',
      error: describeError(error),
      ...requestId,
      details: { note: 'EC2 says the rule no longer exists' },
    };
  }
  return planFailedAttempt(claimed, error, maxAttempts, mayHaveApplied(error));
}

/**
 * A revoke (or the re-read before it) failed: try again later (REVOKE_RETRY, with backoff), or give up as
 * FAILED after `maxAttempts`. `revokeMayHaveApplied` is set when the failure was the revoke call itself.
 */
export function planFailedAttempt(
  claimed: ViolationItem,
  error: unknown,
  maxAttempts: number,
  revokeMayHaveApplied?: boolean,
): Settlement {
  const attempts = claimed.revokeAttempts + 1;
  const message = describeError(error);
  const awsRequestId = error instanceof AwsCallError ? error.requestId : undefined;
  return {
    to: attempts >= maxAttempts ? 'FAILED' : 'REVOKE_RETRY',
    result: 'error',
    error: message,
    ...(awsRequestId ? { awsRequestId } : {}),
    details: {
      attempt: attempts,
      of: maxAttempts,
      ...(revokeMayHaveApplied ? { note: 'EC2 gave no clear answer: the rule may be gone already' } : {}),
    },
    set: {
      revokeAttempts: attempts,
      lastError: message,
      ...(revokeMayHaveApplied === undefined ? {} : { revokeMayHaveApplied }),
    },
  };
}

/**
 * The write that ends a claim as settled, on behalf of whoever asked for the revoke: who decided and when
 * (not for a retry; no "decided by" on FAILED), and a REVOKE_RETRY due after the backoff.
 */
export function planSettle(claimed: ViolationItem, s: Settlement, now: Date): Transition {
  const by = claimed.revokeBy ?? TIMEOUT_ACTOR;
  const at = now.toISOString();
  const decided = s.to !== 'REVOKE_RETRY';
  return move(claimed, VIOLATION_MOVES.settle, {
    to: s.to,
    action: 'revoke',
    by,
    at,
    set: {
      ...(decided && s.to !== 'FAILED' ? { decidedBy: by.id, decidedByName: by.name } : {}),
      ...(decided ? { decidedAt: at } : {}),
      ...s.set,
    },
    due:
      s.to === 'REVOKE_RETRY'
        ? { kind: 'REVOKE_RETRY', at: plusSeconds(now, retryBackoffSeconds(Number(s.set?.revokeAttempts))) }
        : null,
    result: s.result,
    ...(s.error !== undefined ? { error: s.error } : {}),
    ...(s.awsRequestId !== undefined ? { awsRequestId: s.awsRequestId } : {}),
    details: s.details,
  });
}

// ───────────────────────────── Keep ─────────────────────────────

/**
 * Keeps a PENDING violation: → KEPT (justification, until when, by whom) and, in the same transaction, an
 * ACTIVE exception for that exact rule, due to expire (never due when permanent). An earlier exception
 * for the rule that is no longer live may be replaced.
 */
export function planKeep(
  v: ViolationItem,
  person: Person,
  justification: string,
  durationSeconds: number | null,
  now: Date,
): { transition: Transition; exception: ExceptionItem } {
  const nowIso = now.toISOString();
  const expiresAt = durationSeconds === null ? null : plusSeconds(now, durationSeconds);
  const fingerprint = ruleFingerprint(v.account, v.region, v.rule);
  const exception: ExceptionItem & Record<string, unknown> = {
    ...keys.exception(fingerprint),
    type: 'exception',
    status: 'ACTIVE',
    version: 1,
    fingerprint,
    violationId: v.violationId,
    rule: v.rule,
    region: v.region,
    account: v.account,
    severity: v.severity,
    justification,
    approvedBy: person.id,
    approvedByName: person.name,
    createdAt: nowIso,
    expiresAt,
    // The exposure the alert showed when the Keep was given: a rise above it asks again (exposure/regrade.ts).
    grantedAt: v.exposure ? { exposure: v.exposure.exposure, reason: v.exposure.reason } : null,
    // Permanent exceptions are never due: they stay until someone removes them.
    ...(expiresAt ? { dueKind: 'EXCEPTION_EXPIRY' as const, dueAt: expiresAt } : {}),
  };
  const transition = move(v, VIOLATION_MOVES.keep, {
    to: 'KEPT',
    action: 'keep',
    by: { type: 'slack-user', id: person.id, name: person.name },
    at: nowIso,
    set: {
      keptUntil: expiresAt,
      justification,
      decidedBy: person.id,
      decidedByName: person.name,
      decidedAt: nowIso,
    },
    due: null,
    justification,
    details: {
      keptUntil: expiresAt,
      permanent: expiresAt === null,
      exception: fingerprint,
      grantedAt: v.exposure?.exposure ?? null,
      ruleId: v.rule.ruleId,
    },
    alsoPut: [exception],
    alsoPutReplaces: { unlessStatus: 'ACTIVE', expiredBy: nowIso },
  });
  return { transition, exception };
}

// ───────────────────────────── Expiry and re-ask ─────────────────────────────

/** The items (and their audit entries) that re-open a kept rule as a fresh PENDING decision. */
export interface Reopening {
  alert: AlertItem;
  violation: ViolationItem;
  audits: AuditEntry[];
}

export const UNKNOWN_ACTOR: AlertItem['actor'] = {
  arn: 'unknown',
  type: 'Unknown',
  roleArn: null,
  invokedBy: null,
  sourceIp: null,
  userAgent: null,
};

/**
 * The alert and violation that re-open a kept rule whose exception expired, with its own message and
 * deadline. IDs derive from the exception (its violation and version), so a re-run creates nothing new.
 */
export function planReopen(
  ex: ExceptionItem,
  kept: ViolationItem | null,
  finding: Finding,
  nowIso: string,
  /** Where it is asked again (the routes as they are now); default: as the kept rule was. */
  route: RouteChoice = { route: kept?.route ?? null, channel: kept?.channel ?? '', mention: null },
  /** The group's exposure the finding was graded by (policy.exposure), when it was looked up. */
  exposure?: ViolationExposure | null,
): Reopening {
  const alertId = `reopen-${ex.violationId}-${ex.version}`;
  const alertFields: AlertItem & Record<string, unknown> = {
    ...keys.alert(alertId),
    type: 'alert',
    status: 'UNNOTIFIED',
    version: 1,
    alertId,
    eventId: kept?.eventId ?? alertId,
    eventName: 'Kept rule: exception expired',
    eventTime: kept?.eventTime ?? nowIso,
    region: ex.region,
    account: ex.account,
    groupId: finding.rule.groupId,
    groupName: kept?.groupName ?? null,
    actor: kept?.actor ?? UNKNOWN_ACTOR,
    violationIds: [],
    notifyAttempts: 0,
    createdAt: nowIso,
    reopenedFrom: ex.violationId,
    route: route.route,
    ...(route.channel ? { channel: route.channel } : {}),
    ...(route.mention ? { mention: route.mention } : {}),
    dueKind: 'NOTIFY',
    dueAt: nowIso,
  };
  const violation = newViolation(alertFields, finding, {
    index: 0,
    groupName: alertFields.groupName,
    now: nowIso,
    // The alert says it was kept by whom until when (a date in the reader's time, like every message).
    previousKeep: { byName: ex.approvedByName, until: ex.expiresAt },
    ...(exposure ? { exposure } : {}),
  });
  const alert: AlertItem = { ...alertFields, violationIds: [violation.violationId] };
  const audits = [
    auditEntry({ id: violation.violationId, type: 'violation' }, SYSTEM_ACTOR, {
      action: 'reopen',
      fromState: null,
      toState: 'PENDING',
      result: 'ok',
      details: {
        reopenedFrom: ex.violationId,
        exception: ex.fingerprint,
        keptUntil: ex.expiresAt,
        deadline: violation.deadline,
        severity: finding.severity,
        ...(exposure
          ? { exposure: exposure.exposure, severityBeforeExposure: exposure.from ?? finding.severity }
          : {}),
        rule: finding.rule,
      },
      at: nowIso,
    }),
    auditEntry({ id: alert.alertId, type: 'alert' }, SYSTEM_ACTOR, {
      action: 'reopen',
      fromState: null,
      toState: 'UNNOTIFIED',
      result: 'ok',
      details: {
        violations: alert.violationIds,
        reopenedFrom: ex.violationId,
        route: route.route,
        channel: route.channel || null,
      },
      at: nowIso,
    }),
  ];
  return { alert, violation, audits };
}

/** What expiry found of the kept rule: gone, no longer violating, or re-opened as this violation. */
export type ExpiryFinding = 'gone' | 'no-longer-violates' | { reopenedAs: string };

/** An ACTIVE exception runs out (→ EXPIRED), saying what became of the rule it covered. */
export function planExpire(ex: ExceptionItem, found: ExpiryFinding, now: Date): Transition {
  return move(ex, EXCEPTION_MOVES.expire, {
    to: 'EXPIRED',
    action: 'expire',
    by: SYSTEM_ACTOR,
    at: now.toISOString(),
    due: null,
    details: {
      exception: ex.fingerprint,
      keptUntil: ex.expiresAt,
      approvedBy: ex.approvedBy,
      reopenedAs: typeof found === 'object' ? found.reopenedAs : null,
      note:
        found === 'gone'
          ? 'the rule no longer exists'
          : found === 'no-longer-violates'
            ? 'the rule no longer violates the policy'
            : 're-opened for a fresh decision',
    },
  });
}
