import { evaluateRule, matchesPattern } from '../detection/policy';
import type { AuditActor, AuditEntry } from '../kernel/audit';
import { keys, tryTransition } from '../kernel/state';
import { mapSettled } from '../kernel/sweep';
import { formatDuration } from '../shared/duration';
import { AwsCallError, describeError } from '../shared/errors';
import { ruleFingerprint, violationIdFor } from '../shared/ids';
import { type Finding, type RuleFacts, sameRuleContent } from '../shared/model';
import { type Directory, isAllowed } from '../shared/people';
import type { AwsTarget, MessageRef, RuleRemover, SecurityGroupReader } from '../shared/ports';
import { type AlertDeps, postAlert, refreshAlertMessage } from '../violations/alerts';
import type { AlertItem, ExceptionItem, ViolationItem, ViolationStatus } from '../violations/items';

/** What the decision service works with (the Slack wiring satisfies it). */
export interface DecisionDeps extends AlertDeps {
  ec2: SecurityGroupReader & RuleRemover;
  directory: Directory;
}

/** A Slack user deciding, as the verified Slack payload names them. */
export interface Person {
  id: string;
  name: string;
}

/** Who asks for a revoke: a person, or the clock at the deadline. */
export type DecisionActor = ({ type: 'slack-user' } & Person) | { type: 'timeout' };

/**
 * How long a REVOKING claim lasts. Longer than any Lambda run that holds it (the worker and the sweeper
 * time out well within it), so a RECONCILE sweep only ever takes over from a process that died.
 */
export const REVOKE_LEASE_SECONDS = 180;
/** The longest justification a Keep records. */
export const MAX_JUSTIFICATION = 2000;
const MAX_RETRY_BACKOFF_SECONDS = 900;
/** EC2 error codes that mean the rule (or its group) no longer exists. */
const GONE_CODES = new Set([
  'InvalidGroup.NotFound',
  'InvalidSecurityGroupRuleId.NotFound',
  'InvalidPermission.NotFound',
]);

const SYSTEM: AuditActor = { type: 'system', id: 'sg-warden', name: 'sg-warden' };
const TIMEOUT: AuditActor = { type: 'timeout', id: 'timeout', name: 'timeout' };

/** Seconds to wait before revoke attempt `attempt + 1` (30 s, 60 s, 120 s … at most 15 min). */
export function retryBackoffSeconds(attempt: number): number {
  return Math.min(MAX_RETRY_BACKOFF_SECONDS, 30 * 2 ** Math.max(0, attempt - 1));
}

function plusSeconds(now: Date, seconds: number): string {
  return new Date(now.getTime() + seconds * 1000).toISOString();
}

function auditActor(actor: DecisionActor): AuditActor {
  return actor.type === 'timeout' ? TIMEOUT : { type: 'slack-user', id: actor.id, name: actor.name };
}

function decisionActor(by: AuditActor | undefined): DecisionActor {
  return by?.type === 'slack-user' ? { type: 'slack-user', id: by.id, name: by.name } : { type: 'timeout' };
}

function targetOf(v: { account: string; region: string }): AwsTarget {
  return { account: v.account, region: v.region };
}

function isGoneError(error: unknown): boolean {
  return error instanceof AwsCallError && GONE_CODES.has(error.awsCode);
}

/** What the SDK saw of a failed call: EC2's HTTP status (none when no answer came) and its tries. */
function callMetadata(error: unknown): { status: number | undefined; attempts: number } {
  const meta = (error instanceof AwsCallError ? error.cause : error) as
    | { $metadata?: { httpStatusCode?: number; attempts?: number } }
    | undefined;
  return { status: meta?.$metadata?.httpStatusCode, attempts: meta?.$metadata?.attempts ?? 1 };
}

/**
 * True when a failed revoke may still have removed the rule: no answer came (timeout, lost connection)
 * or EC2 failed inside (5xx). A 4xx, or throttling, means EC2 did not do it.
 */
function mayHaveApplied(error: unknown): boolean {
  if (error instanceof AwsCallError && error.awsCode === 'RequestLimitExceeded') return false;
  const { status } = callMetadata(error);
  return status === undefined || status >= 500;
}

function audit(
  subjectId: string,
  entry: Omit<AuditEntry, 'subjectId' | 'subjectType' | 'actorType' | 'actorId' | 'actorName'> & {
    subjectType?: AuditEntry['subjectType'];
  },
  by: AuditActor,
): AuditEntry {
  return {
    subjectType: 'violation',
    ...entry,
    subjectId,
    actorType: by.type,
    actorId: by.id,
    actorName: by.name,
  };
}

/** The rule as EC2 has it now, or null when it is gone (by rule ID; by content when the ID is unknown). */
export async function readLiveRule(
  groups: SecurityGroupReader,
  target: AwsTarget,
  rule: RuleFacts,
): Promise<RuleFacts | null> {
  if (rule.ruleId) {
    const found = await groups.describeRules(target, [rule.ruleId]);
    return found.find((r) => r.ruleId === rule.ruleId) ?? null;
  }
  const live = await groups.describeGroupRules(target, rule.groupId);
  return live.find((r) => r.ruleId && sameRuleContent(r, rule)) ?? null;
}

/** Re-evaluates a live rule against the policy with the group's current tags (null tags when unreadable). */
async function evaluateLive(
  deps: DecisionDeps,
  target: AwsTarget,
  live: RuleFacts,
  actor: ViolationItem['actor'] | null,
): Promise<Finding | null> {
  let tags: Record<string, string> | null = null;
  try {
    tags = (await deps.ec2.describeGroup(target, live.groupId))?.tags ?? null;
  } catch (error) {
    deps.logger.warn({ groupId: live.groupId, err: describeError(error) }, 'group tags unavailable');
  }
  return evaluateRule(live, deps.config.policy, { actor, groupTags: tags });
}

// ───────────────────────────── Revoke ─────────────────────────────

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

async function current(deps: DecisionDeps, violationId: string): Promise<ViolationItem | null> {
  return deps.store.get<ViolationItem>(keys.violation(violationId));
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
  const v = await current(deps, violationId);
  if (!v) return { violationId, outcome: 'not-found', violation: null };
  if (v.status !== 'PENDING' && v.status !== 'REVOKE_RETRY')
    return refusedRevoke(deps, actor, { violationId, outcome: 'not-pending', violation: v });
  const by = auditActor(actor);
  const now = deps.clock();
  const claimed = await tryTransition<ViolationItem>(deps.store, {
    key: keys.violation(violationId),
    from: [v.status],
    expectVersion: v.version,
    to: 'REVOKING',
    set: { revokeBy: by },
    due: { kind: 'RECONCILE', at: plusSeconds(now, REVOKE_LEASE_SECONDS) },
    audit: audit(
      violationId,
      {
        action: 'revoke-start',
        fromState: v.status,
        toState: 'REVOKING',
        result: 'ok',
        details: { attempt: v.revokeAttempts + 1, ruleId: v.rule.ruleId },
        at: now.toISOString(),
      },
      by,
    ),
  });
  if (!claimed) {
    const decided = await current(deps, violationId);
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
export async function reconcileRevoke(deps: DecisionDeps, seen: ViolationItem): Promise<RevokeResult> {
  const violationId = seen.violationId;
  if (seen.status !== 'REVOKING') return { violationId, outcome: 'not-pending', violation: seen };
  const now = deps.clock();
  const claimed = await tryTransition<ViolationItem>(deps.store, {
    key: keys.violation(violationId),
    from: ['REVOKING'],
    expectVersion: seen.version,
    to: 'REVOKING',
    due: { kind: 'RECONCILE', at: plusSeconds(now, REVOKE_LEASE_SECONDS) },
    audit: audit(
      violationId,
      {
        action: 'reconcile-start',
        fromState: 'REVOKING',
        toState: 'REVOKING',
        result: 'ok',
        details: { leaseExpiredAt: seen.dueAt ?? null, revokeBy: seen.revokeBy ?? null },
        at: now.toISOString(),
      },
      SYSTEM,
    ),
  });
  if (!claimed) {
    return { violationId, outcome: 'lost-race', violation: await current(deps, violationId) };
  }
  const result = await settleClaim(deps, claimed, 'reconcile');
  await refreshAlertMessage(deps, claimed.alertId);
  return result;
}

/** An ACTIVE, unexpired exception for the rule as it is now, if any. */
async function activeExceptionFor(
  deps: DecisionDeps,
  v: ViolationItem,
  live: RuleFacts,
): Promise<ExceptionItem | null> {
  const ex = await deps.store.get<ExceptionItem>(keys.exception(ruleFingerprint(v.account, v.region, live)));
  if (ex?.status !== 'ACTIVE') return null;
  return ex.expiresAt === null || new Date(ex.expiresAt) > deps.clock() ? ex : null;
}

/** Ends a claim: re-read, re-evaluate, dry run or revoke, and write the outcome (all conditional on the claim). */
async function settleClaim(
  deps: DecisionDeps,
  claimed: ViolationItem,
  mode: 'fresh' | 'reconcile',
): Promise<RevokeResult> {
  const by = claimed.revokeBy ?? TIMEOUT;
  const revoked: ViolationStatus = by.type === 'timeout' ? 'AUTO_REVOKED' : 'REVOKED';
  const target = targetOf(claimed);
  let live: RuleFacts | null;
  try {
    live = await readLiveRule(deps.ec2, target, claimed.rule);
  } catch (error) {
    return failAttempt(deps, claimed, error);
  }
  if (!live) {
    // A dry run never revoked anything, so a vanished rule is gone whoever held the claim.
    if ((mode === 'reconcile' || claimed.revokeMayHaveApplied) && !claimed.dryRun) {
      return finishClaim(deps, claimed, revoked, {
        action: 'revoke',
        details: {
          reconciled: true,
          note:
            mode === 'reconcile'
              ? 'the rule is gone after an unfinished revoke: recorded as revoked'
              : 'the rule is gone after a revoke whose answer was lost: recorded as revoked',
        },
      });
    }
    return finishClaim(deps, claimed, 'GONE', {
      action: 'revoke',
      details: { note: 'the rule no longer exists in EC2' },
    });
  }
  if (by.type === 'timeout') {
    // Another alert about the same rule may have been kept meanwhile: the clock never revokes a kept rule.
    const kept = await activeExceptionFor(deps, claimed, live);
    if (kept) {
      return finishClaim(deps, claimed, 'RESOLVED', {
        action: 'revoke',
        details: {
          note: 'the rule is kept under another decision',
          exception: kept.fingerprint,
          keptBy: kept.approvedBy,
          keptUntil: kept.expiresAt,
          keptViolation: kept.violationId,
        },
      });
    }
  }
  if (!(await evaluateLive(deps, target, live, claimed.actor))) {
    return finishClaim(deps, claimed, 'RESOLVED', {
      action: 'revoke',
      details: { note: 'the rule changed and no longer violates the policy', liveRule: live },
    });
  }
  if (claimed.dryRun) {
    return finishClaim(deps, claimed, 'DRY_RUN', {
      action: 'revoke',
      details: { note: 'dry run: would have revoked this rule', wouldRevoke: live.ruleId, rule: live },
    });
  }
  let requestId: string | null;
  try {
    ({ requestId } = await deps.ec2.revokeRules(target, live.groupId, live.direction, [live.ruleId!]));
  } catch (error) {
    if (isGoneError(error) && callMetadata(error).attempts > 1 && !claimed.dryRun) {
      // The SDK sent the call again after getting no answer: the first try removed the rule.
      return finishClaim(deps, claimed, revoked, {
        action: 'revoke',
        ...(error instanceof AwsCallError && error.requestId ? { awsRequestId: error.requestId } : {}),
        details: {
          ruleId: live.ruleId,
          groupId: live.groupId,
          reconciled: true,
          note: 'EC2 said the rule was gone when the call was retried: the first try removed it',
        },
      });
    }
    if (isGoneError(error)) {
      return finishClaim(deps, claimed, 'GONE', {
        action: 'revoke',
        error: describeError(error),
        ...(error instanceof AwsCallError && error.requestId ? { awsRequestId: error.requestId } : {}),
        details: { note: 'EC2 says the rule no longer exists' },
      });
    }
    return failAttempt(deps, claimed, error, mayHaveApplied(error));
  }
  deps.logger.info({ violationId: claimed.violationId, ruleId: live.ruleId, requestId }, 'rule revoked');
  return finishClaim(deps, claimed, revoked, {
    action: 'revoke',
    ...(requestId ? { awsRequestId: requestId } : {}),
    details: {
      ruleId: live.ruleId,
      groupId: live.groupId,
      ...(mode === 'reconcile' ? { reconciled: true } : {}),
    },
  });
}

async function finishClaim(
  deps: DecisionDeps,
  claimed: ViolationItem,
  to: ViolationStatus,
  entry: Pick<AuditEntry, 'action' | 'awsRequestId' | 'error' | 'details'>,
  set: Record<string, unknown> = {},
  result: AuditEntry['result'] = 'ok',
): Promise<RevokeResult> {
  const by = claimed.revokeBy ?? TIMEOUT;
  const at = deps.clock().toISOString();
  const decided = to !== 'REVOKE_RETRY';
  const after = await tryTransition<ViolationItem>(deps.store, {
    key: keys.violation(claimed.violationId),
    from: ['REVOKING'],
    expectVersion: claimed.version,
    to,
    set: {
      ...(decided && to !== 'FAILED' ? { decidedBy: by.id, decidedByName: by.name } : {}),
      ...(decided ? { decidedAt: at } : {}),
      ...set,
    },
    due:
      to === 'REVOKE_RETRY'
        ? {
            kind: 'REVOKE_RETRY',
            at: plusSeconds(deps.clock(), retryBackoffSeconds(Number(set.revokeAttempts))),
          }
        : null,
    audit: audit(claimed.violationId, { ...entry, fromState: 'REVOKING', toState: to, result, at }, by),
  });
  if (!after) {
    // A reconcile took the claim over (our lease ran out mid-call); it records the outcome.
    deps.logger.warn(
      { violationId: claimed.violationId, to },
      'revoke claim taken over before its outcome was written',
    );
    return {
      violationId: claimed.violationId,
      outcome: 'lost-race',
      violation: await current(deps, claimed.violationId),
    };
  }
  return {
    violationId: claimed.violationId,
    outcome: to as RevokeOutcome,
    violation: after,
    ...(entry.error ? { error: entry.error } : {}),
  };
}

/** A revoke (or the re-read before it) failed: retry later with backoff, or give up as FAILED and say so. */
async function failAttempt(
  deps: DecisionDeps,
  claimed: ViolationItem,
  error: unknown,
  /** Set when the failure was the revoke call itself: whether it may have removed the rule anyway. */
  revokeMayHaveApplied?: boolean,
): Promise<RevokeResult> {
  const attempts = claimed.revokeAttempts + 1;
  const message = describeError(error);
  const awsRequestId = error instanceof AwsCallError ? error.requestId : undefined;
  const giveUp = attempts >= deps.config.decisions.revokeAttempts;
  deps.logger.warn({ violationId: claimed.violationId, attempts, err: message, giveUp }, 'revoke failed');
  const result = await finishClaim(
    deps,
    claimed,
    giveUp ? 'FAILED' : 'REVOKE_RETRY',
    {
      action: 'revoke',
      error: message,
      ...(awsRequestId ? { awsRequestId } : {}),
      details: {
        attempt: attempts,
        of: deps.config.decisions.revokeAttempts,
        ...(revokeMayHaveApplied ? { note: 'EC2 gave no clear answer: the rule may be gone already' } : {}),
      },
    },
    {
      revokeAttempts: attempts,
      lastError: message,
      ...(revokeMayHaveApplied === undefined ? {} : { revokeMayHaveApplied }),
    },
    'error',
  );
  if (giveUp && result.outcome === 'FAILED') await postFailureNotice(deps, claimed, attempts, message);
  return result;
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

// ───────────────────────────── People's requests ─────────────────────────────

/** Why a person's request was refused (stable codes; the message is the sentence they see). */
export type RefusalCode =
  | 'NOT_AUTHORISED'
  | 'SELF_APPROVAL'
  | 'PERMANENT_NOT_ALLOWED'
  | 'BAD_DURATION'
  | 'BAD_INPUT'
  | 'NOT_FOUND'
  | 'WRONG_MESSAGE'
  | 'ALREADY_DECIDED'
  | 'ALREADY_KEPT';

export interface Refusal {
  code: RefusalCode;
  message: string;
}

/** What a person asked to act on: one violation (button) or every pending violation of an alert (act-on-all). */
export type DecisionTarget = { violationIds: string[] } | { alertId: string };

/** The violations a request refers to, checked against stored state: never trust IDs from a button. */
export interface ResolvedTarget {
  alert: AlertItem | null;
  violations: ViolationItem[];
}

async function refuse(
  deps: DecisionDeps,
  person: Person,
  subject: { id: string; type: AuditEntry['subjectType'] },
  action: string,
  refusal: Refusal,
  extra: { fromState?: string | null; justification?: string } = {},
): Promise<Refusal> {
  await deps.store.appendAudit({
    subjectId: subject.id.slice(0, 100),
    subjectType: subject.type,
    action,
    fromState: extra.fromState ?? null,
    toState: null,
    actorType: 'slack-user',
    actorId: person.id,
    actorName: person.name,
    ...(extra.justification ? { justification: extra.justification } : {}),
    result: 'refused',
    error: refusal.message,
    details: { code: refusal.code },
    at: deps.clock().toISOString(),
  });
  deps.logger.info(
    { slackUser: person.id, action, code: refusal.code, subject: subject.id },
    'request refused',
  );
  return refusal;
}

function subjectOf(target: DecisionTarget): { id: string; type: AuditEntry['subjectType'] } {
  if ('alertId' in target) return { id: target.alertId, type: 'alert' };
  return { id: target.violationIds[0] ?? 'unknown', type: 'violation' };
}

function isOnMessage(alert: AlertItem | null, message: MessageRef | null): boolean {
  if (!message) return true;
  return alert?.channel === message.channel && alert.ts === message.ts;
}

/**
 * Loads what a request refers to and checks it belongs to the message the person pressed: an unknown ID,
 * or the ID of another alert's violation (a tampered button value), is refused.
 */
export async function resolveTarget(
  deps: DecisionDeps,
  target: DecisionTarget,
  message: MessageRef | null,
): Promise<ResolvedTarget | Refusal> {
  if ('alertId' in target) {
    const alert = await deps.store.get<AlertItem>(keys.alert(target.alertId));
    if (!alert)
      return { code: 'NOT_FOUND', message: 'sg-warden does not know this alert, so nothing was changed.' };
    if (!isOnMessage(alert, message))
      return {
        code: 'WRONG_MESSAGE',
        message: 'That button does not belong to this alert, so nothing was changed.',
      };
    const violations = (await Promise.all(alert.violationIds.map((id) => current(deps, id)))).filter(
      (v): v is ViolationItem => v !== null,
    );
    return { alert, violations };
  }
  const violations: ViolationItem[] = [];
  let alert: AlertItem | null = null;
  for (const id of target.violationIds) {
    const v = typeof id === 'string' && /^[\w:.-]{1,100}$/.test(id) ? await current(deps, id) : null;
    if (!v)
      return {
        code: 'NOT_FOUND',
        message: 'sg-warden does not know the rule this button refers to, so nothing was changed.',
      };
    if (!alert || alert.alertId !== v.alertId) alert = await deps.store.get<AlertItem>(keys.alert(v.alertId));
    if (!isOnMessage(alert, message))
      return {
        code: 'WRONG_MESSAGE',
        message: 'That button refers to a rule of another alert, so nothing was changed.',
      };
    violations.push(v);
  }
  return { alert, violations };
}

function isRefusal(value: unknown): value is Refusal {
  return typeof value === 'object' && value !== null && 'code' in value && 'message' in value;
}

export interface PersonRevokeResult {
  refused: Refusal | null;
  results: RevokeResult[];
}

/**
 * A person pressed Revoke (one rule) or Revoke all (every pending rule of the alert): checks they are a
 * configured revoker and that the IDs belong to the message, then revokes. A refusal changes nothing
 * but the audit trail.
 */
export async function revokeForPerson(
  deps: DecisionDeps,
  person: Person,
  target: DecisionTarget,
  message: MessageRef | null,
): Promise<PersonRevokeResult> {
  const subject = subjectOf(target);
  if (!(await isAllowed(deps.config.decisions.revokers, person.id, deps.directory))) {
    const refused = await refuse(deps, person, subject, 'revoke', {
      code: 'NOT_AUTHORISED',
      message: 'You are not on the list of people who may revoke rules, so nothing was changed.',
    });
    return { refused, results: [] };
  }
  const resolved = await resolveTarget(deps, target, message);
  if (isRefusal(resolved))
    return { refused: await refuse(deps, person, subject, 'revoke', resolved), results: [] };
  const ids =
    'alertId' in target
      ? resolved.violations.filter((v) => v.status === 'PENDING').map((v) => v.violationId)
      : resolved.violations.map((v) => v.violationId);
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
  if (ids.length === 1) return { refused: null, results: [await revokeViolation(deps, ids[0]!, actor)] };
  const results: RevokeResult[] = new Array(ids.length);
  const settled = await mapSettled(ids, 4, async (id) => {
    results[ids.indexOf(id)] = await revokeViolation(deps, id, actor, { refresh: false });
  });
  if (resolved.alert) await refreshAlertMessage(deps, resolved.alert.alertId);
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

// ───────────────────────────── Keep ─────────────────────────────

/** The self-approval rule: the Slack user mapped to the AWS principal who made the change may not keep it. */
export function isOwnChange(
  deps: Pick<DecisionDeps, 'config'>,
  v: ViolationItem,
  slackUserId: string,
): boolean {
  const names = [v.actor.arn, v.actor.roleArn].filter((n): n is string => !!n);
  return Object.entries(deps.config.decisions.principalToSlack).some(
    ([pattern, user]) => user === slackUserId && names.some((n) => matchesPattern(pattern, n)),
  );
}

/** Whether a violation of this severity may be kept permanently. */
export function mayKeepPermanently(
  deps: Pick<DecisionDeps, 'config'>,
  v: Pick<ViolationItem, 'severity'>,
): boolean {
  return deps.config.decisions.permanentKeepFor.includes(v.severity);
}

/** The keep durations a person may choose for these violations: the configured ones, and null (permanent) where allowed for all. */
export function keepChoices(
  deps: Pick<DecisionDeps, 'config'>,
  violations: Pick<ViolationItem, 'severity'>[],
): (number | null)[] {
  const permanent = violations.length > 0 && violations.every((v) => mayKeepPermanently(deps, v));
  return [...deps.config.decisions.keepDurations, ...(permanent ? [null] : [])];
}

export type KeepResult =
  | { ok: true; violation: ViolationItem; exception: ExceptionItem }
  | { ok: false; refusal: Refusal; violation: ViolationItem | null };

/** Checks everything a Keep needs except the state write; a Refusal says why not. Pure of side effects. */
export async function checkKeep(
  deps: DecisionDeps,
  person: Person,
  v: ViolationItem,
  durationSeconds: number | null | undefined,
): Promise<Refusal | null> {
  if (!(await isAllowed(deps.config.decisions.approvers, person.id, deps.directory)))
    return {
      code: 'NOT_AUTHORISED',
      message: 'You are not on the list of people who may keep rules, so nothing was changed.',
    };
  if (isOwnChange(deps, v, person.id))
    return {
      code: 'SELF_APPROVAL',
      message: 'This change was made by your own AWS identity: someone else must approve keeping it.',
    };
  if (v.status !== 'PENDING') return { code: 'ALREADY_DECIDED', message: alreadyDecided(v) };
  if (durationSeconds === null && !mayKeepPermanently(deps, v))
    return {
      code: 'PERMANENT_NOT_ALLOWED',
      message: `${capitalise(v.severity)} rules may not be kept permanently (allowed for: ${deps.config.decisions.permanentKeepFor.join(', ') || 'none'}). Pick a duration.`,
    };
  if (
    durationSeconds !== null &&
    durationSeconds !== undefined &&
    !deps.config.decisions.keepDurations.includes(durationSeconds)
  )
    return {
      code: 'BAD_DURATION',
      message: `${formatDuration(durationSeconds)} is not one of the allowed durations (${deps.config.decisions.keepDurations.map(formatDuration).join(', ')}).`,
    };
  return null;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A sentence saying how a violation was already decided. */
export function alreadyDecided(v: ViolationItem): string {
  const who = v.decidedBy === 'timeout' ? 'the timeout' : (v.decidedByName ?? v.decidedBy ?? 'someone');
  switch (v.status) {
    case 'REVOKING':
    case 'REVOKE_RETRY':
      return 'This rule is already being revoked.';
    case 'PENDING':
      return 'This rule is still waiting for a decision.';
    case 'KEPT':
      return `This rule was already kept by ${who}.`;
    case 'FAILED':
      return 'Revoking this rule already failed; see the alert thread.';
    default:
      return `This rule was already decided: ${v.status.toLowerCase().replace('_', ' ')}${v.decidedBy ? ` by ${who}` : ''}.`;
  }
}

/**
 * Keeps one violating rule: PENDING → KEPT (justification, until when, by whom) and, in the same
 * transaction, an ACTIVE exception for that exact rule (due to expire, or permanent), so later events
 * about the rule raise nothing. An earlier, expired exception for the same rule is replaced. Checks
 * approvers, self-approval and the allowed durations; every refusal is audited.
 */
export async function keepViolation(
  deps: DecisionDeps,
  violationId: string,
  person: Person,
  justification: string,
  durationSeconds: number | null,
  options: { refresh?: boolean; message?: MessageRef | null } = {},
): Promise<KeepResult> {
  const text = justification.trim();
  const subject = { id: violationId, type: 'violation' as const };
  const resolved = await resolveTarget(deps, { violationIds: [violationId] }, options.message ?? null);
  if (isRefusal(resolved)) {
    return {
      ok: false,
      refusal: await refuse(deps, person, subject, 'keep', resolved, { justification: text }),
      violation: null,
    };
  }
  const v = resolved.violations[0]!;
  const refusal: Refusal | null =
    text.length === 0
      ? { code: 'BAD_INPUT', message: 'A justification is required to keep a rule.' }
      : text.length > MAX_JUSTIFICATION
        ? { code: 'BAD_INPUT', message: `The justification is longer than ${MAX_JUSTIFICATION} characters.` }
        : await checkKeep(deps, person, v, durationSeconds);
  if (refusal) {
    return {
      ok: false,
      refusal: await refuse(deps, person, subject, 'keep', refusal, {
        fromState: v.status,
        justification: text,
      }),
      violation: v,
    };
  }
  const now = deps.clock();
  const nowIso = now.toISOString();
  const expiresAt = durationSeconds === null ? null : plusSeconds(now, durationSeconds);
  const fingerprint = ruleFingerprint(v.account, v.region, v.rule);
  const exception: ExceptionItem & Record<string, unknown> = {
    ...keys.exception(fingerprint),
    type: 'exception',
    status: 'ACTIVE',
    version: 1,
    fingerprint,
    violationId,
    rule: v.rule,
    region: v.region,
    account: v.account,
    severity: v.severity,
    justification: text,
    approvedBy: person.id,
    approvedByName: person.name,
    createdAt: nowIso,
    expiresAt,
    // Permanent exceptions are never due: they stay until someone removes them.
    ...(expiresAt
      ? {
          dueKind: 'EXCEPTION_EXPIRY' as const,
          dueAt: expiresAt,
        }
      : {}),
  };
  const by: AuditActor = { type: 'slack-user', id: person.id, name: person.name };
  const after = await tryTransition<ViolationItem>(deps.store, {
    key: keys.violation(violationId),
    from: ['PENDING'],
    expectVersion: v.version,
    to: 'KEPT',
    set: {
      keptUntil: expiresAt,
      justification: text,
      decidedBy: person.id,
      decidedByName: person.name,
      decidedAt: nowIso,
    },
    due: null,
    audit: audit(
      violationId,
      {
        action: 'keep',
        fromState: 'PENDING',
        toState: 'KEPT',
        justification: text,
        result: 'ok',
        details: {
          keptUntil: expiresAt,
          permanent: expiresAt === null,
          exception: fingerprint,
          ruleId: v.rule.ruleId,
        },
        at: nowIso,
      },
      by,
    ),
    alsoPut: [exception],
    alsoPutReplaces: { unlessStatus: 'ACTIVE', expiredBy: nowIso },
  });
  if (!after) {
    const now2 = await current(deps, violationId);
    const conflict: Refusal =
      now2 && now2.status !== 'PENDING'
        ? { code: 'ALREADY_DECIDED', message: alreadyDecided(now2) }
        : {
            code: 'ALREADY_KEPT',
            message: 'This exact rule is already kept by another decision, so nothing was changed.',
          };
    return {
      ok: false,
      refusal: await refuse(deps, person, subject, 'keep', conflict, {
        fromState: now2?.status ?? null,
        justification: text,
      }),
      violation: now2,
    };
  }
  if (options.refresh !== false) await refreshAlertMessage(deps, v.alertId);
  return { ok: true, violation: after, exception };
}

export type KeepPreparation =
  | { refusal: Refusal }
  | { violations: ViolationItem[]; choices: (number | null)[] };

/**
 * Checks a Keep dialog as it opens (after it is shown): the IDs belong to the message, the person may
 * keep them, nobody decided them yet; and which durations to offer. Refusals are audited.
 */
export async function prepareKeep(
  deps: DecisionDeps,
  person: Person,
  target: DecisionTarget,
  message: MessageRef | null,
): Promise<KeepPreparation> {
  const subject = subjectOf(target);
  const resolved = await resolveTarget(deps, target, message);
  if (isRefusal(resolved)) return { refusal: await refuse(deps, person, subject, 'keep', resolved) };
  const chosen =
    'alertId' in target ? resolved.violations.filter((v) => v.status === 'PENDING') : resolved.violations;
  if (chosen.length === 0) {
    return {
      refusal: await refuse(deps, person, subject, 'keep', {
        code: 'ALREADY_DECIDED',
        message: 'Every rule of this alert is already decided.',
      }),
    };
  }
  for (const v of chosen) {
    const refusal = await checkKeep(deps, person, v, undefined);
    if (refusal) {
      return {
        refusal: await refuse(deps, person, { id: v.violationId, type: 'violation' }, 'keep', refusal, {
          fromState: v.status,
        }),
      };
    }
  }
  return { violations: chosen, choices: keepChoices(deps, chosen) };
}

export interface PersonKeepResult {
  refused: Refusal | null;
  results: KeepResult[];
}

/**
 * A person submitted the Keep dialog for one rule or for every pending rule of an alert. Checks that the
 * IDs belong to the message and that a permanent keep is allowed for every rule before keeping any.
 */
export async function keepForPerson(
  deps: DecisionDeps,
  person: Person,
  target: DecisionTarget,
  message: MessageRef | null,
  justification: string,
  durationSeconds: number | null,
): Promise<PersonKeepResult> {
  const subject = subjectOf(target);
  const resolved = await resolveTarget(deps, target, message);
  if (isRefusal(resolved))
    return { refused: await refuse(deps, person, subject, 'keep', resolved, { justification }), results: [] };
  const chosen =
    'alertId' in target ? resolved.violations.filter((v) => v.status === 'PENDING') : resolved.violations;
  if (chosen.length === 0) {
    const refusal: Refusal = {
      code: 'ALREADY_DECIDED',
      message:
        resolved.violations.length === 1
          ? alreadyDecided(resolved.violations[0]!)
          : 'Every rule of this alert is already decided.',
    };
    return { refused: await refuse(deps, person, subject, 'keep', refusal, { justification }), results: [] };
  }
  const notPermanent = [
    ...new Set(chosen.filter((v) => !mayKeepPermanently(deps, v)).map((v) => v.severity)),
  ];
  if (durationSeconds === null && notPermanent.length > 0) {
    const refusal: Refusal = {
      code: 'PERMANENT_NOT_ALLOWED',
      message: `${capitalise(notPermanent.join('/'))} rules may not be kept permanently (allowed for: ${deps.config.decisions.permanentKeepFor.join(', ') || 'none'}). Pick a duration.`,
    };
    return { refused: await refuse(deps, person, subject, 'keep', refusal, { justification }), results: [] };
  }
  const results: KeepResult[] = [];
  for (const v of chosen) {
    results.push(
      await keepViolation(deps, v.violationId, person, justification, durationSeconds, { refresh: false }),
    );
  }
  // A Keep refused for every rule changed nothing: the message stays as it is.
  if (resolved.alert && results.some((r) => r.ok)) await refreshAlertMessage(deps, resolved.alert.alertId);
  return { refused: null, results };
}

// ───────────────────────────── The clock ─────────────────────────────

export interface ExpiryResult {
  outcome: 'not-due' | 'expired' | 'reopened' | 'lost-race';
  alertId?: string;
  violationId?: string;
}

/**
 * EXCEPTION_EXPIRY: an ACTIVE exception ran out. If the rule still exists and still breaks the policy,
 * it goes back to a fresh PENDING decision with its own alert message and deadline (never silently kept
 * forever); if it is gone or no longer violates, the exception just expires. Safe to run twice: the
 * re-opened alert and violation have IDs derived from the exception, and the expiry is conditional.
 */
export async function expireException(deps: DecisionDeps, seen: ExceptionItem): Promise<ExpiryResult> {
  const now = deps.clock();
  const ex = await deps.store.get<ExceptionItem>(keys.exception(seen.fingerprint));
  if (ex?.status !== 'ACTIVE' || ex.expiresAt === null || new Date(ex.expiresAt) > now)
    return { outcome: 'not-due' };
  const nowIso = now.toISOString();
  const target = targetOf(ex);
  const kept = await current(deps, ex.violationId);
  const live = await readLiveRule(deps.ec2, target, ex.rule);
  const finding = live ? await evaluateLive(deps, target, live, kept?.actor ?? null) : null;
  let reopened: { alert: AlertItem; violation: ViolationItem } | null = null;
  if (finding) {
    reopened = planReopen(ex, kept, finding, nowIso);
    await deps.store.createAll(
      [
        reopened.alert as unknown as Record<string, unknown>,
        reopened.violation as unknown as Record<string, unknown>,
      ],
      [
        audit(
          reopened.violation.violationId,
          {
            action: 'reopen',
            fromState: null,
            toState: 'PENDING',
            result: 'ok',
            details: {
              reopenedFrom: ex.violationId,
              exception: ex.fingerprint,
              keptUntil: ex.expiresAt,
              deadline: reopened.violation.deadline,
              severity: finding.severity,
              rule: finding.rule,
            },
            at: nowIso,
          },
          SYSTEM,
        ),
        audit(
          reopened.alert.alertId,
          {
            subjectType: 'alert',
            action: 'reopen',
            fromState: null,
            toState: 'UNNOTIFIED',
            result: 'ok',
            details: { violations: reopened.alert.violationIds, reopenedFrom: ex.violationId },
            at: nowIso,
          },
          SYSTEM,
        ),
      ],
    );
  }
  const expired = await tryTransition(deps.store, {
    key: keys.exception(ex.fingerprint),
    from: ['ACTIVE'],
    expectVersion: ex.version,
    to: 'EXPIRED',
    due: null,
    audit: audit(
      ex.violationId,
      {
        subjectType: 'exception',
        action: 'expire',
        fromState: 'ACTIVE',
        toState: 'EXPIRED',
        result: 'ok',
        details: {
          exception: ex.fingerprint,
          keptUntil: ex.expiresAt,
          approvedBy: ex.approvedBy,
          reopenedAs: reopened?.violation.violationId ?? null,
          note: !live
            ? 'the rule no longer exists'
            : !finding
              ? 'the rule no longer violates the policy'
              : 're-opened for a fresh decision',
        },
        at: nowIso,
      },
      SYSTEM,
    ),
  });
  if (!expired) {
    return { outcome: 'lost-race' };
  }
  if (!reopened) return { outcome: 'expired' };
  await postAlert(deps, reopened.alert.alertId);
  return {
    outcome: 'reopened',
    alertId: reopened.alert.alertId,
    violationId: reopened.violation.violationId,
  };
}

/** The alert and violation that re-open a kept rule (IDs derived from the exception, so a re-run creates nothing new). */
function planReopen(
  ex: ExceptionItem,
  kept: ViolationItem | null,
  finding: Finding,
  nowIso: string,
): { alert: AlertItem; violation: ViolationItem } {
  const alertId = `reopen-${ex.violationId}-${ex.version}`;
  const alert: AlertItem & Record<string, unknown> = {
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
    actor: kept?.actor ?? {
      arn: 'unknown',
      type: 'Unknown',
      roleArn: null,
      invokedBy: null,
      sourceIp: null,
      userAgent: null,
    },
    violationIds: [],
    notifyAttempts: 0,
    createdAt: nowIso,
    reopenedFrom: ex.violationId,
    dueKind: 'NOTIFY',
    dueAt: nowIso,
  };
  const violationId = violationIdFor(alertId, finding.rule, 0);
  const deadline =
    finding.action === 'alert' && finding.timeoutSeconds !== null
      ? new Date(new Date(nowIso).getTime() + finding.timeoutSeconds * 1000).toISOString()
      : null;
  const violation: ViolationItem & Record<string, unknown> = {
    ...keys.violation(violationId),
    type: 'violation',
    status: 'PENDING',
    version: 1,
    violationId,
    alertId,
    eventId: alert.eventId,
    region: ex.region,
    account: ex.account,
    groupId: finding.rule.groupId,
    groupName: alert.groupName,
    rule: finding.rule,
    severity: finding.severity,
    reasons: finding.reasons,
    // The alert says it was kept by whom until when (a date in the reader's time, like every message).
    previousKeep: { byName: ex.approvedByName, until: ex.expiresAt },
    action: finding.action,
    dryRun: finding.dryRun,
    actor: alert.actor,
    eventTime: alert.eventTime,
    createdAt: nowIso,
    deadline,
    revokeAttempts: 0,
    ...(deadline ? { dueKind: 'DEADLINE' as const, dueAt: deadline } : {}),
  };
  alert.violationIds = [violationId];
  return { alert, violation };
}

/** DEADLINE: a pending violation's time ran out: the clock revokes it (actor "timeout"). */
export async function revokeAtDeadline(deps: DecisionDeps, seen: ViolationItem): Promise<RevokeResult> {
  if (seen.status !== 'PENDING')
    return { violationId: seen.violationId, outcome: 'not-pending', violation: seen };
  return revokeViolation(deps, seen.violationId, { type: 'timeout' });
}

/** REVOKE_RETRY: tries a failed revoke again, for whoever asked for it first. */
export async function retryRevoke(deps: DecisionDeps, seen: ViolationItem): Promise<RevokeResult> {
  if (seen.status !== 'REVOKE_RETRY')
    return { violationId: seen.violationId, outcome: 'not-pending', violation: seen };
  return revokeViolation(deps, seen.violationId, decisionActor(seen.revokeBy));
}
