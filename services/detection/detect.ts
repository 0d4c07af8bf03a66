import type { GrantChangeNotifier } from '../grants/changed-rule';
import { endGrantForChangedRule } from '../grants/changed-rule';
import type { GrantItem } from '../grants/items';
import type { AuditEntry } from '../kernel/audit';
import { keys, tryTransition } from '../kernel/state';
import { AccountAccessError, AwsCallError, describeError } from '../shared/errors';
import { ruleFingerprint } from '../shared/ids';
import type { Finding, RuleFacts, SgEvent } from '../shared/model';
import type {
  AccountScope,
  AwsTarget,
  GroupInfo,
  PrefixListReader,
  SecurityGroupReader,
} from '../shared/ports';
import { postAlert } from '../violations/alerts';
import { announceAlert, type PosterDeps } from '../violations/channel-poster';
import { newViolation } from '../violations/factory';
import type { AlertItem, ExceptionItem, ViolationItem } from '../violations/items';
import { intakeRefusal, refuseEvent } from './intake';
import { eventActor, ownRuleVerdict } from './own-rules';
import { evaluate } from './policy';
import { prefixListEntriesFor } from './prefix-lists';
import { principalName } from './principal-name';
import { confirmRemovals } from './removals';
import { type CheckedRule, resolveRules } from './rules';

export { principalName } from './principal-name';

export interface DetectionDeps extends PosterDeps {
  groups: SecurityGroupReader;
  /** Prefix-list entries; give each invocation its own cachedPrefixLists(). */
  prefixLists: PrefixListReader;
  accounts: AccountScope;
  /** Tells a grant's owner when the grant ended because its rule was changed. */
  grantOwners: GrantChangeNotifier;
}

export interface DetectionResult {
  eventId: string;
  outcome:
    | 'not-a-rule-change'
    | 'no-violations'
    | 'duplicate'
    | 'stored'
    | 'resolved-gone'
    /** Removals the event claimed that EC2 did not confirm: the violations stay pending. */
    | 'unconfirmed'
    /** Not evaluated: an unwatched account, or an event that contradicts itself. */
    | 'refused';
  violations: number;
  posted: boolean;
  skipped: { ruleId: string | null; why: string }[];
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

/** A rule that will be evaluated, with what detection adds to its finding's reasons. */
interface Candidate {
  rule: RuleFacts;
  /** Said first (a rule sg-warden made that was changed). */
  leading: string[];
  /** Said after the policy's reasons (could not be checked in EC2, …). */
  trailing: string[];
}

const ACCESS_DENIED = new Set([
  'UnauthorizedOperation',
  'AccessDenied',
  'AccessDeniedException',
  'AuthFailure',
]);

/**
 * Handles one security-group event: refuse it when its account is not watched or it contradicts
 * itself; confirm in EC2 whatever it claims (removals close violations only once EC2 agrees; rules are
 * judged as EC2 has them); leave out the bot's own rules while they are still what it made, and kept
 * rules; evaluate (prefix lists through their entries); store one violation per violating rule and post
 * one message for the event. An event from a member account sg-warden cannot act in is evaluated from
 * its record and posted with the reason, notify-only. Idempotent: a re-delivered event (same eventID)
 * creates nothing new and posts nothing twice.
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
  const refusal = intakeRefusal(deps.accounts, event);
  if (refusal) {
    await refuseEvent(deps, event, refusal);
    return { ...result, outcome: 'refused' };
  }
  if (event.kind === 'revoke' || event.kind === 'delete-group') {
    const { gone, refused } = await confirmRemovals(deps, event);
    const outcome = gone > 0 ? 'resolved-gone' : refused > 0 ? 'unconfirmed' : 'not-a-rule-change';
    return { ...result, outcome };
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
  // Never the bot's own account for another one: a rule the central account does not know is not "gone".
  const cannotAct = deps.accounts.cannotAct(event.account);
  let unreachable = cannotAct ? new AccountAccessError(event.account, cannotAct).message : null;
  let checked: CheckedRule[] = [];
  let group: GroupInfo | null = null;
  let groupKnown = false;
  if (!unreachable) {
    try {
      const resolved = await resolveRules(deps.groups, event);
      checked = resolved.rules;
      for (const why of resolved.mismatched)
        result.skipped.push({ ruleId: null, why: `event does not match EC2: ${why}` });
      const groupId = event.groupId ?? checked[0]?.rule.groupId;
      if (groupId) {
        try {
          group = await deps.groups.describeGroup(target, groupId);
          groupKnown = true;
        } catch (error) {
          if (error instanceof AccountAccessError) throw error;
          // Tags only refine the policy (exemptions, only-from); evaluate without them rather than drop the event.
          log.warn({ groupId, err: describeError(error) }, 'group tags unavailable');
        }
      }
    } catch (error) {
      if (!(error instanceof AccountAccessError)) throw error;
      unreachable = error.message;
    }
  }
  if (unreachable) {
    log.warn(
      { account: event.account, why: unreachable },
      'cannot act in the event’s account; evaluated from the record',
    );
    const hinted = event.kind === 'authorize' ? event.rules : (event.requested ?? []);
    checked = hinted.map((rule) => ({ rule, confirmed: false }));
    group = null;
  } else if (groupKnown && group === null && checked.some((c) => !c.confirmed)) {
    // The group is not in the account and region the event names: a forged or mismatched event.
    await refuseEvent(deps, event, {
      code: 'EVENT_MISMATCH',
      message: `${event.eventName} ${event.eventId} names group ${event.groupId}, which EC2 does not have in account ${event.account} ${event.region}.`,
    });
    return { ...result, outcome: 'refused' };
  }

  const candidates: Candidate[] = [];
  const now = clock();
  for (const { rule, confirmed } of checked) {
    const candidate: Candidate = { rule, leading: [], trailing: [] };
    const verdict = await ownRuleVerdict(deps, event, rule);
    if (verdict.kind === 'own') {
      result.skipped.push({ ruleId: rule.ruleId, why: `granted by sg-warden (${verdict.grantId})` });
      continue;
    }
    if (verdict.kind === 'changed') {
      candidate.leading.push(verdict.reason);
      // Only EC2's view of the rule ends a grant: a record alone could be forged.
      if (confirmed && verdict.grant?.status === 'ACTIVE')
        await endChangedGrant(deps, event, rule, verdict.grant);
    }
    const exception = await activeException(deps, event, rule, now);
    if (exception) {
      result.skipped.push({
        ruleId: rule.ruleId,
        why: `kept until ${exception.expiresAt ?? 'revoked'} (${exception.violationId})`,
      });
      continue;
    }
    if (unreachable)
      candidate.trailing.push(`${unreachable}; this rule was not checked in EC2 and will not be revoked`);
    else if (!confirmed)
      candidate.trailing.push(
        `EC2 does not have ${rule.ruleId} in account ${event.account} ${event.region} now: removed since the change, or the event does not match AWS`,
      );
    candidates.push(candidate);
  }
  if (candidates.length === 0) return result;

  let prefixLists: Record<string, string[]> = {};
  if (!unreachable && candidates.some((c) => c.rule.sourceKind === 'prefix-list')) {
    try {
      prefixLists = await prefixListEntriesFor(
        deps.prefixLists,
        target,
        candidates.map((c) => c.rule),
      );
    } catch (error) {
      if (!(error instanceof AwsCallError && ACCESS_DENIED.has(error.awsCode))) throw error;
      // A member role from before prefix lists were read: say so, and judge the rest.
      log.warn({ err: describeError(error) }, 'prefix list entries unreadable');
      result.skipped.push({ ruleId: null, why: `prefix list entries unreadable: ${describeError(error)}` });
    }
  }
  const byRule = new Map(candidates.map((c) => [c.rule, c]));
  const findings = evaluate(
    candidates.map((c) => c.rule),
    deps.config.policy,
    { actor: event.actor, groupTags: group?.tags ?? null, prefixLists },
  ).map((f): Finding => {
    const c = byRule.get(f.rule);
    const reasons = [...(c?.leading ?? []), ...f.reasons, ...(c?.trailing ?? [])];
    // Nothing can be revoked where sg-warden cannot act: tell, never count down.
    return unreachable ? { ...f, reasons, action: 'notify', timeoutSeconds: null } : { ...f, reasons };
  });
  if (findings.length === 0) return result;
  const groupId = event.groupId ?? findings[0]!.rule.groupId;

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
  // At once, as its own message, unless the channel has a burst waiting: then as part of a digest.
  const posted = await announceAlert(deps, alert.alertId);
  return { ...result, outcome: 'stored', violations: violations.length, posted };
}

/** Ends the grant whose rule was changed (once) and tells its owner; a failed message is only logged. */
async function endChangedGrant(
  deps: DetectionDeps,
  event: SgEvent,
  rule: RuleFacts,
  grant: GrantItem,
): Promise<void> {
  const change = {
    rule,
    by: eventActor(event, principalName(event.actor.arn)),
    eventId: event.eventId,
    eventName: event.eventName,
    at: deps.clock().toISOString(),
  };
  const ended = await endGrantForChangedRule(deps, grant, change);
  if (!ended) return;
  deps.logger.warn(
    { grantId: grant.grantId, ruleId: rule.ruleId, by: event.actor.arn },
    'a rule sg-warden made for a grant was changed; the grant ended',
  );
  try {
    await deps.grantOwners.grantEndedByChange(ended, change);
  } catch (error) {
    deps.logger.warn({ grantId: grant.grantId, err: describeError(error) }, 'grant owner not told');
  }
}
