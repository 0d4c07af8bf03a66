import type { AuditEntry } from '../kernel/audit';
import { keys, tryTransition } from '../kernel/state';
import { describeError } from '../shared/errors';
import { ruleFingerprint } from '../shared/ids';
import { type Finding, type RuleFacts, type SgEvent, sameRuleContent } from '../shared/model';
import type { AwsTarget, GroupInfo, SecurityGroupReader } from '../shared/ports';
import { type AlertDeps, postAlert, refreshAlertMessage } from '../violations/alerts';
import { newViolation } from '../violations/factory';
import type { AlertItem, ExceptionItem, ViolationItem } from '../violations/items';
import { evaluate } from './policy';

export interface DetectionDeps extends AlertDeps {
  groups: SecurityGroupReader;
}

export interface DetectionResult {
  eventId: string;
  outcome: 'not-a-rule-change' | 'no-violations' | 'duplicate' | 'stored' | 'resolved-gone';
  violations: number;
  posted: boolean;
  skipped: { ruleId: string | null; why: string }[];
}

/**
 * The rules an event added or changed, as EC2 has them now when the record is not enough:
 * ModifySecurityGroupRules by rule ID, older records (no rule IDs) by matching the group's live rules.
 */
export async function resolveRules(groups: SecurityGroupReader, event: SgEvent): Promise<RuleFacts[]> {
  if (!event.needsLookup) return event.rules;
  const target: AwsTarget = { account: event.account, region: event.region };
  if (event.kind === 'modify') return groups.describeRules(target, event.ruleIds);
  if (!event.groupId) return event.rules;
  const live = await groups.describeGroupRules(target, event.groupId);
  return event.rules.flatMap((r) => {
    if (r.ruleId) return [r];
    const match = live.find((l) => sameRuleContent(l, r));
    return match ? [{ ...match, description: match.description ?? r.description }] : [];
  });
}

/** Builds the violation items for the findings of one alert. */
export function planViolations(
  alert: AlertItem,
  findings: Finding[],
  groupName: string | null,
  now: string,
): ViolationItem[] {
  return findings.map((f, index) => newViolation(alert, f, { index, groupName, now }));
}

/**
 * A principal's short name for people: "Role/session" for an assumed role, the user name for an IAM
 * user, "root", or the whole ARN / service name when it is none of those.
 */
export function principalName(arn: string): string {
  const match = /^arn:aws[\w-]*:(?:sts|iam)::\d{12}:(assumed-role|user|root)(?:\/(.+))?$/.exec(arn);
  if (!match) return arn;
  if (match[1] === 'root') return 'root';
  return match[1] === 'user' ? (match[2]?.split('/').at(-1) ?? arn) : (match[2] ?? arn);
}

function createdAudit(v: ViolationItem, now: string): AuditEntry {
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
      rule: v.rule,
      reasons: v.reasons,
      deadline: v.deadline,
      dryRun: v.dryRun,
      sourceIp: v.actor.sourceIp,
    },
    at: now,
  };
}

/** Writes violations (each with its audit entry) in transactions of at most 50 pairs; existing ones are skipped. */
async function storeViolations(deps: DetectionDeps, violations: ViolationItem[], now: string): Promise<void> {
  for (let i = 0; i < violations.length; i += 50) {
    const chunk = violations.slice(i, i + 50);
    const stored = await deps.store.createAll(
      chunk as unknown as Record<string, unknown>[],
      chunk.map((v) => createdAudit(v, now)),
    );
    if (stored) continue;
    // Some already exist (a re-delivery that got part way): write the rest one by one.
    for (const v of chunk) {
      await deps.store.createAll([v as unknown as Record<string, unknown>], [createdAudit(v, now)]);
    }
  }
}

/** An active, unexpired exception for this rule, if any. */
async function activeException(
  deps: DetectionDeps,
  event: SgEvent,
  rule: RuleFacts,
  now: Date,
): Promise<ExceptionItem | null> {
  const exception = await deps.store.get<ExceptionItem>(
    keys.exception(ruleFingerprint(event.account, event.region, rule)),
  );
  if (exception?.status !== 'ACTIVE') return null;
  if (exception.expiresAt !== null && new Date(exception.expiresAt) <= now) return null;
  return exception;
}

function removedByEvent(v: ViolationItem, event: SgEvent): boolean {
  if (v.account !== event.account || v.region !== event.region) return false;
  if (event.kind === 'delete-group') return v.groupId === event.groupId;
  if (v.groupId !== event.groupId) return false;
  if (v.rule.ruleId && event.ruleIds.includes(v.rule.ruleId)) return true;
  return event.rules.some((r) => sameRuleContent(r, v.rule));
}

/**
 * A pending violation whose rule someone removed by hand (RevokeSecurityGroup*, DeleteSecurityGroup)
 * resolves as GONE, so nobody is asked about a rule that no longer exists. Returns how many resolved.
 */
export async function resolveRemovedRules(deps: DetectionDeps, event: SgEvent): Promise<number> {
  const pending = await deps.store.queryByStatus<ViolationItem>('violation', 'PENDING', 1000);
  const hits = pending.filter((v) => removedByEvent(v, event));
  let resolved = 0;
  for (const v of hits) {
    const at = deps.clock().toISOString();
    try {
      await deps.store.transition({
        key: keys.violation(v.violationId),
        from: ['PENDING'],
        to: 'GONE',
        set: { decidedBy: event.actor.arn, decidedByName: event.actor.arn, decidedAt: at },
        due: null,
        audit: {
          subjectId: v.violationId,
          subjectType: 'violation',
          action: 'removed-outside',
          fromState: 'PENDING',
          toState: 'GONE',
          actorType: 'aws-principal',
          actorId: event.actor.arn,
          actorName: principalName(event.actor.arn),
          result: 'ok',
          details: { eventId: event.eventId, eventName: event.eventName, sourceIp: event.actor.sourceIp },
          at,
        },
      });
      resolved++;
      await refreshAlertMessage(deps, v.alertId);
    } catch (error) {
      deps.logger.info(
        { violationId: v.violationId, err: describeError(error) },
        'violation already decided',
      );
    }
  }
  return resolved;
}

/**
 * Handles one security-group event: resolve its rules, leave out the bot's own grants and kept rules,
 * evaluate, store one violation per violating rule and post one message for the event.
 * Idempotent: a re-delivered event (same eventID) creates nothing new and posts nothing twice.
 */
export async function detect(deps: DetectionDeps, event: SgEvent): Promise<DetectionResult> {
  const { store, logger, clock } = deps;
  const log = logger.child({ eventId: event.eventId, eventName: event.eventName, region: event.region });
  const result: DetectionResult = {
    eventId: event.eventId,
    outcome: 'no-violations',
    violations: 0,
    posted: false,
    skipped: [],
  };
  if (event.kind === 'revoke' || event.kind === 'delete-group') {
    const gone = await resolveRemovedRules(deps, event);
    return { ...result, outcome: gone > 0 ? 'resolved-gone' : 'not-a-rule-change' };
  }
  if (event.kind !== 'authorize' && event.kind !== 'modify')
    return { ...result, outcome: 'not-a-rule-change' };
  if (event.kind === 'authorize' && event.rules.length === 0) {
    log.warn({ groupId: event.groupId }, 'authorize event names no rule sg-warden can read; not evaluated');
    return result;
  }

  const existing = await store.get<AlertItem>(keys.alert(event.eventId));
  if (existing && existing.status !== 'STORING') {
    log.info({ status: existing.status }, 'event already processed');
    const posted = existing.status === 'UNNOTIFIED' ? await postAlert(deps, existing.alertId) : false;
    return { ...result, outcome: 'duplicate', violations: existing.violationIds.length, posted };
  }

  const target: AwsTarget = { account: event.account, region: event.region };
  const rules = await resolveRules(deps.groups, event);
  const candidates: RuleFacts[] = [];
  const now = clock();
  for (const rule of rules) {
    if (rule.ruleId && (await store.get(keys.ownRule(event.region, rule.ruleId)))) {
      result.skipped.push({ ruleId: rule.ruleId, why: 'granted by sg-warden' });
      continue;
    }
    const exception = await activeException(deps, event, rule, now);
    if (exception) {
      result.skipped.push({
        ruleId: rule.ruleId,
        why: `kept until ${exception.expiresAt ?? 'revoked'} (${exception.violationId})`,
      });
      continue;
    }
    candidates.push(rule);
  }
  if (candidates.length === 0) return result;

  const groupId = event.groupId ?? candidates[0]!.groupId;
  let group: GroupInfo | null = null;
  try {
    group = await deps.groups.describeGroup(target, groupId);
  } catch (error) {
    // Tags only refine the policy (exemptions, only-from); evaluate without them rather than drop the event.
    log.warn({ groupId, err: describeError(error) }, 'group tags unavailable');
  }
  const findings = evaluate(candidates, deps.config.policy, {
    actor: event.actor,
    groupTags: group?.tags ?? null,
  });
  if (findings.length === 0) return result;

  const nowIso = now.toISOString();
  const alert: AlertItem = existing ?? {
    ...keys.alert(event.eventId),
    type: 'alert',
    status: 'STORING',
    version: 1,
    alertId: event.eventId,
    eventId: event.eventId,
    eventName: event.eventName,
    eventTime: event.eventTime,
    region: event.region,
    account: event.account,
    groupId,
    groupName: group?.name ?? null,
    actor: event.actor,
    violationIds: [],
    notifyAttempts: 0,
    createdAt: nowIso,
  };
  const violations = planViolations(alert, findings, group?.name ?? null, nowIso);
  alert.violationIds = violations.map((v) => v.violationId);
  if (!existing) {
    const created = await store.createAll([alert as unknown as Record<string, unknown>], []);
    if (!created) {
      // A concurrent delivery of the same event got there first; it finishes the work.
      return { ...result, outcome: 'duplicate' };
    }
  }
  await storeViolations(deps, violations, nowIso);
  // Only a lost race means another delivery finished the work; any other failure is thrown, so the
  // event is delivered again (an alert left STORING would never be posted while its deadlines run).
  const stored = await tryTransition(store, {
    key: keys.alert(alert.alertId),
    from: ['STORING'],
    to: 'UNNOTIFIED',
    set: { violationIds: alert.violationIds },
    due: { kind: 'NOTIFY', at: nowIso },
    audit: {
      subjectId: alert.alertId,
      subjectType: 'alert',
      action: 'detect',
      fromState: null,
      toState: 'UNNOTIFIED',
      actorType: 'aws-principal',
      actorId: event.actor.arn,
      actorName: principalName(event.actor.arn),
      result: 'ok',
      details: {
        eventName: event.eventName,
        violations: alert.violationIds,
        sourceIp: event.actor.sourceIp,
      },
      at: nowIso,
    },
  });
  if (!stored) return { ...result, outcome: 'duplicate', violations: violations.length };
  log.info({ violations: violations.length, alertId: alert.alertId }, 'violations stored');
  const posted = await postAlert(deps, alert.alertId);
  return { ...result, outcome: 'stored', violations: violations.length, posted };
}
