import { alertThread, disarmOrTell } from '../backstop/backstop';
import { dueViolation } from '../backstop/plan';
import { recordedExposure, type ViolationExposure } from '../exposure/grade';
import { TIMEOUT_ACTOR } from '../kernel/audit';
import { keys, tryTransition } from '../kernel/state';
import { mapSettled } from '../kernel/sweep';
import { describeError } from '../shared/errors';
import type { RuleFacts } from '../shared/model';
import type { Person } from '../shared/people';
import type { AwsTarget, MessageRef } from '../shared/ports';
import { refreshAlertMessage } from '../violations/alerts';
import type { AlertItem, ViolationItem } from '../violations/items';
import {
  activeExceptionFor,
  currentViolation,
  type DecisionDeps,
  evaluateLive,
  liveRuleIn,
  readLiveRule,
} from './deps';
import {
  planFailedAttempt,
  planReconcileClaim,
  planRevoke,
  planRevokeAnswer,
  planRevokeClaim,
  planSettle,
  type RevokeFacts,
  type Settlement,
} from './plans';
import {
  type DecisionTarget,
  isRefusal,
  isWholeAlert,
  refreshResolvedMessage,
  refuse,
  resolveTarget,
  subjectOf,
} from './requests';
import { endViolationSessions, needsGroupRules, trackingAtRevoke } from './sessions';
import {
  alreadyDecided,
  auditActor,
  type DecisionActor,
  type DecisionRefusal,
  decisionActor,
  isClaimable,
  targetOf,
} from './states';
import { checkRevoke, checkRevokerAnywhere } from './who-may';

/** What a revoke call did: the final (or retry) state it wrote, or why it wrote nothing. */
export type RevokeOutcome =
  | 'REVOKED'
  | 'AUTO_REVOKED'
  | 'GONE'
  | 'RESOLVED'
  | 'DRY_RUN'
  | 'FAILED'
  | 'REVOKE_RETRY'
  /** No such violation. */
  | 'not-found'
  /** It was not PENDING or REVOKE_RETRY when read: someone decided first. */
  | 'not-pending'
  /** Another click, sweep or reconcile won the conditional write. */
  | 'lost-race'
  /** It failed on sg-warden's side (one rule of a Revoke all); `error` says how. */
  | 'error';

export interface RevokeResult {
  violationId: string;
  outcome: RevokeOutcome;
  /** The violation as stored after the call (null when unknown). */
  violation: ViolationItem | null;
  error?: string;
}

/**
 * Revokes one violating rule for a person or for the clock ('timeout'). Claims it (PENDING or
 * REVOKE_RETRY → REVOKING, with a lease the RECONCILE sweep watches), re-reads the rule from EC2 and
 * ends it as GONE, RESOLVED, DRY_RUN, REVOKED / AUTO_REVOKED, or — when EC2 refuses — REVOKE_RETRY
 * with backoff and finally FAILED with a notice in the alert's thread. Exactly one caller wins the
 * claim, so racing clicks and sweeps make one EC2 call. Refreshes the alert message unless told not to.
 */
export async function revokeViolation(
  deps: DecisionDeps,
  violationId: string,
  actor: DecisionActor,
  options: { refresh?: boolean } = {},
): Promise<RevokeResult> {
  const v = await currentViolation(deps, violationId);
  if (!v) return { violationId, outcome: 'not-found', violation: null };
  if (!isClaimable(v.status))
    return refusedRevoke(deps, actor, { violationId, outcome: 'not-pending', violation: v });
  const claimed = await tryTransition<ViolationItem>(
    deps.store,
    planRevokeClaim(v, auditActor(actor), deps.clock()),
  );
  if (!claimed) {
    const decided = await currentViolation(deps, violationId);
    return refusedRevoke(deps, actor, { violationId, outcome: 'lost-race', violation: decided });
  }
  const result = await settleClaim(deps, claimed, 'fresh');
  if (options.refresh !== false) await refreshAlertMessage(deps, v.alertId);
  return result;
}

/**
 * A person's Revoke that found the rule already decided, or lost the race to another decision, is
 * refused like any other request: on record, with who pressed. (The clock losing a race is not.)
 */
async function refusedRevoke(
  deps: DecisionDeps,
  actor: DecisionActor,
  result: RevokeResult,
): Promise<RevokeResult> {
  if (actor.type !== 'slack-user') return result;
  await refuse(
    deps,
    actor,
    { id: result.violationId, type: 'violation' },
    'revoke',
    {
      code: 'ALREADY_DECIDED',
      message: result.violation ? alreadyDecided(result.violation) : 'Someone else decided this rule first.',
    },
    { fromState: result.violation?.status ?? null },
  );
  return result;
}

/**
 * RECONCILE: a REVOKING claim whose lease ran out (its process died between the EC2 call and the
 * state write). Takes the claim over at the version the sweep saw and decides from EC2's truth: the
 * rule is gone → the revoke happened, recorded once as REVOKED / AUTO_REVOKED (reconciled); still
 * there → revoke it now.
 */
export async function reconcileRevoke(
  deps: DecisionDeps,
  seen: ViolationItem,
  options: { refresh?: boolean } = {},
): Promise<RevokeResult> {
  const violationId = seen.violationId;
  if (seen.status !== 'REVOKING') return { violationId, outcome: 'not-pending', violation: seen };
  const claimed = await tryTransition<ViolationItem>(deps.store, planReconcileClaim(seen, deps.clock()));
  if (!claimed) {
    return { violationId, outcome: 'lost-race', violation: await currentViolation(deps, violationId) };
  }
  const result = await settleClaim(deps, claimed, 'reconcile');
  if (options.refresh !== false) await refreshAlertMessage(deps, claimed.alertId);
  return result;
}

/**
 * DEADLINE: a pending violation's time ran out: the clock revokes it (actor "timeout"). The sweeper
 * passes `refresh: false` and updates each message once after its wave (violations/message-updates.ts).
 */
export async function revokeAtDeadline(
  deps: DecisionDeps,
  seen: ViolationItem,
  options: { refresh?: boolean } = {},
): Promise<RevokeResult> {
  if (seen.status !== 'PENDING')
    return { violationId: seen.violationId, outcome: 'not-pending', violation: seen };
  return revokeAsSeen(deps, seen, { type: 'timeout' }, options);
}

/** REVOKE_RETRY: tries a failed revoke again, for whoever asked for it first. */
export async function retryRevoke(
  deps: DecisionDeps,
  seen: ViolationItem,
  options: { refresh?: boolean } = {},
): Promise<RevokeResult> {
  if (seen.status !== 'REVOKE_RETRY')
    return { violationId: seen.violationId, outcome: 'not-pending', violation: seen };
  return revokeAsSeen(deps, seen, decisionActor(seen.revokeBy), options);
}

/**
 * The sweep's revoke, and a person's revoke of one rule: claims the violation at the version the due
 * index (or the request's checks) saw, without reading it again first (the claim is conditional on that version, so it is decided against a click all the same).
 * A claim that loses — the index was behind, or someone decided meanwhile — goes the ordinary way
 * (`revokeViolation` reads the violation as stored now and answers from that).
 */
async function revokeAsSeen(
  deps: DecisionDeps,
  seen: ViolationItem,
  actor: DecisionActor,
  options: { refresh?: boolean; alert?: AlertItem | null },
): Promise<RevokeResult> {
  const claimed = await tryTransition<ViolationItem>(
    deps.store,
    planRevokeClaim(seen, auditActor(actor), deps.clock()),
  );
  if (!claimed) return revokeViolation(deps, seen.violationId, actor, options);
  const result = await settleClaim(deps, claimed, 'fresh');
  if (options.refresh !== false) await refreshAlertMessage(deps, seen.alertId, options.alert ?? undefined);
  return result;
}

/** Ends a claim: re-read, re-evaluate, dry run or revoke, and write the outcome (all conditional on the claim). */
async function settleClaim(
  deps: DecisionDeps,
  claimed: ViolationItem,
  mode: 'fresh' | 'reconcile',
): Promise<RevokeResult> {
  const maxAttempts = deps.config.decisions.revokeAttempts;
  const target = targetOf(claimed);
  let live: RuleFacts | null;
  let groupRules: RuleFacts[] | undefined;
  try {
    ({ live, groupRules } = await readRuleAndGroup(deps, target, claimed.rule));
  } catch (error) {
    return finishClaim(deps, claimed, planFailedAttempt(claimed, error, maxAttempts));
  }
  // The reads the plan needs, in this order: an exception only for the clock, the policy only for a rule
  // that is still there and not kept.
  const keptUnder =
    live && (claimed.revokeBy?.type ?? 'timeout') === 'timeout'
      ? await activeExceptionFor(deps, claimed, live)
      : null;
  const violates = live && !keptUnder ? !!(await evaluateLive(deps, target, live, claimed.actor)) : false;
  const facts: RevokeFacts = { live, keptUnder, violates };
  const next = planRevoke(claimed, mode, facts);
  if (next.call === 'none') return finishClaim(deps, claimed, next.settle);
  const rule = next.rule;
  // Read before the revoke, together: what the group exposed, and whether the rule's connections outlive
  // it (that depends on the group's other rules). Neither ever holds the revoke back.
  const [exposure, tracking] = await Promise.all([
    exposureBeforeAutoRevoke(deps, claimed),
    trackingAtRevoke(deps, target, rule, groupRules),
  ]);
  let answer: { requestId: string | null } | { error: unknown };
  try {
    answer = await deps.ec2.revokeRules(target, rule.groupId, rule.direction, [rule.ruleId!]);
  } catch (error) {
    answer = { error };
  }
  if ('requestId' in answer)
    deps.logger.info(
      { violationId: claimed.violationId, ruleId: rule.ruleId, requestId: answer.requestId },
      'rule revoked',
    );
  const settlement = withExposure(planRevokeAnswer(claimed, mode, rule, answer, maxAttempts), exposure);
  if (settlement.to !== 'REVOKED' && settlement.to !== 'AUTO_REVOKED')
    return finishClaim(deps, claimed, settlement);
  const result = await finishClaim(deps, claimed, {
    ...settlement,
    set: { ...settlement.set, connections: tracking },
    details: { ...settlement.details, connections: tracking.verdict },
  });
  if (result.outcome === settlement.to && result.violation)
    await endViolationSessions(deps, result.violation, rule, tracking, claimed.revokeBy ?? TIMEOUT_ACTOR);
  return result;
}

/**
 * The rule as EC2 has it now and, when connection tracking will need them (a world-open rule), the
 * group's rules: one DescribeSecurityGroupRules by group answers both. Should that read fail, the rule
 * is read by its ID alone (and the group's rules are asked for again before the revoke).
 */
async function readRuleAndGroup(
  deps: DecisionDeps,
  target: AwsTarget,
  rule: RuleFacts,
): Promise<{ live: RuleFacts | null; groupRules?: RuleFacts[] }> {
  if (!rule.ruleId || !needsGroupRules(rule)) return { live: await readLiveRule(deps.ec2, target, rule) };
  let groupRules: RuleFacts[];
  try {
    groupRules = await deps.ec2.describeGroupRules(target, rule.groupId);
  } catch (error) {
    deps.logger.warn({ groupId: rule.groupId, err: describeError(error) }, 'group rules unreadable');
    return { live: await readLiveRule(deps.ec2, target, rule) };
  }
  return { live: liveRuleIn(groupRules, rule), groupRules };
}

/**
 * The clock looks the group's exposure up again just before it revokes (once per group per sweep), for
 * the record: the audit entry and the message say what the rule exposed when it was removed. A lookup
 * that fails is recorded as `unknown`; nothing here ever holds the revoke back.
 */
async function exposureBeforeAutoRevoke(
  deps: DecisionDeps,
  claimed: ViolationItem,
): Promise<ViolationExposure | null> {
  if (!deps.exposure || !deps.config.policy.exposure.enabled) return null;
  if ((claimed.revokeBy?.type ?? 'timeout') !== 'timeout') return null;
  try {
    const found = await deps.exposure.exposureOf(targetOf(claimed), claimed.groupId);
    return recordedExposure(found, deps.clock().toISOString());
  } catch (error) {
    deps.logger.warn(
      { violationId: claimed.violationId, err: describeError(error) },
      'exposure not looked up before the auto-revoke',
    );
    return null;
  }
}

/** A settlement that also records the exposure found before the revoke (on the item and in the audit entry). */
function withExposure(settlement: Settlement, exposure: ViolationExposure | null): Settlement {
  if (!exposure) return settlement;
  return {
    ...settlement,
    details: { ...settlement.details, exposure: exposure.exposure, exposureReason: exposure.reason },
    set: { ...settlement.set, exposureAtRevoke: exposure },
  };
}

/** Writes a settlement (conditional on the claim); a failed attempt is logged, and a final failure told. */
async function finishClaim(
  deps: DecisionDeps,
  claimed: ViolationItem,
  settlement: Settlement,
): Promise<RevokeResult> {
  if (settlement.result === 'error') {
    deps.logger.warn(
      {
        violationId: claimed.violationId,
        attempts: settlement.set?.revokeAttempts,
        err: settlement.error,
        giveUp: settlement.to === 'FAILED',
      },
      'revoke failed',
    );
  }
  const after = await tryTransition<ViolationItem>(deps.store, planSettle(claimed, settlement, deps.clock()));
  if (!after) {
    // A reconcile took the claim over (our lease ran out mid-call); it records the outcome.
    deps.logger.warn(
      { violationId: claimed.violationId, to: settlement.to },
      'revoke claim taken over before its outcome was written',
    );
    return {
      violationId: claimed.violationId,
      outcome: 'lost-race',
      violation: await currentViolation(deps, claimed.violationId),
    };
  }
  if (settlement.to === 'FAILED')
    await postFailureNotice(deps, claimed, Number(settlement.set?.revokeAttempts), settlement.error ?? '');
  else if (settlement.to !== 'REVOKE_RETRY' && dueViolation(claimed))
    // Decided first (revoked, gone, resolved): the backstop must not fire, least of all at a rule kept
    // under another decision. A retry keeps it (it may yet do the work); FAILED keeps it for the same reason.
    await disarmOrTell(deps, { kind: 'violation', id: claimed.violationId, target: targetOf(claimed) }, () =>
      alertThread(deps, claimed.alertId),
    );
  return {
    violationId: claimed.violationId,
    outcome: settlement.to as RevokeOutcome,
    violation: after,
    ...(settlement.error ? { error: settlement.error } : {}),
  };
}

async function postFailureNotice(
  deps: DecisionDeps,
  v: ViolationItem,
  attempts: number,
  error: string,
): Promise<void> {
  const alert = await deps.store.get<AlertItem>(keys.alert(v.alertId));
  const channel = alert?.channel ?? deps.config.slack.alertChannel;
  try {
    await deps.notifier.postRevokeFailure(channel, { violation: v, attempts, error }, alert?.ts);
  } catch (err) {
    deps.logger.error(
      { violationId: v.violationId, err: describeError(err) },
      'failed-revoke notice not posted; the alert message shows FAILED',
    );
  }
}

export interface PersonRevokeResult {
  refused: DecisionRefusal | null;
  results: RevokeResult[];
}

/**
 * A person pressed Revoke (one rule) or Revoke all (every pending rule of the alert): checks that the IDs
 * belong to the message they pressed and that they may revoke each rule (its route's revokers, or their
 * own change), then revokes. A refusal changes
 * nothing but the audit trail.
 */
export async function revokeForPerson(
  deps: DecisionDeps,
  person: Person,
  target: DecisionTarget | null,
  message: MessageRef | null,
): Promise<PersonRevokeResult> {
  const subject = subjectOf(target, person);
  const resolved = await resolveTarget(deps, target, message);
  if (isRefusal(resolved)) {
    // Someone who may revoke nothing hears that first, whatever else is wrong with the request.
    const refusal = (await checkRevokerAnywhere(deps, person)) ?? resolved;
    return { refused: await refuse(deps, person, subject, 'revoke', refusal), results: [] };
  }
  const chosen =
    target && isWholeAlert(target)
      ? resolved.violations.filter((v) => v.status === 'PENDING')
      : resolved.violations;
  // Who may revoke comes from each rule's stored route (or decisions.revokers): checked for all before any.
  for (const v of chosen) {
    const notRevoker = await checkRevoke(deps, person, v);
    if (notRevoker)
      return { refused: await refuse(deps, person, subject, 'revoke', notRevoker), results: [] };
  }
  const ids = chosen.map((v) => v.violationId);
  if (ids.length === 0) {
    // Revoke all on an alert whose rules are all decided: a refused request like any other, on record.
    const refused = await refuse(
      deps,
      person,
      subject,
      'revoke',
      { code: 'ALREADY_DECIDED', message: 'Every rule of this alert is already decided.' },
      { fromState: resolved.alert?.status ?? null },
    );
    return { refused, results: [] };
  }
  const actor: DecisionActor = { type: 'slack-user', ...person };
  // Claimed at the version the checks read (not read again); should it have moved since, read afresh.
  if (ids.length === 1) {
    const [seen] = chosen as [ViolationItem];
    const result = isClaimable(seen.status)
      ? await revokeAsSeen(deps, seen, actor, { alert: resolved.alert })
      : await revokeViolation(deps, seen.violationId, actor);
    return { refused: null, results: [result] };
  }
  const results: RevokeResult[] = new Array(ids.length);
  const settled = await mapSettled(ids, 4, async (id) => {
    results[ids.indexOf(id)] = await revokeViolation(deps, id, actor, { refresh: false });
  });
  await refreshResolvedMessage(deps, resolved);
  settled.forEach((s, i) => {
    if (s.status === 'rejected')
      results[i] = {
        violationId: ids[i]!,
        outcome: 'error',
        violation: null,
        error: describeError(s.reason),
      };
  });
  return { refused: null, results };
}
