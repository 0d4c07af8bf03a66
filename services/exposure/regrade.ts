import { alertThread, armBackstop, tellBackstop } from '../backstop/backstop';
import { dueViolation } from '../backstop/plan';
import type { PolicyConfig } from '../config/config';
import { evaluateRule, type TagSetter } from '../detection/policy';
import { prefixListEntriesFor } from '../detection/prefix-lists';
import { tagSettersFor } from '../detection/tags';
import { keys, type StoredItem, tryTransition } from '../kernel/state';
import { AccountAccessError, AwsCallError, describeError } from '../shared/errors';
import { ruleFingerprint } from '../shared/ids';
import type { Metrics } from '../shared/metrics';
import { type Actor, type RuleFacts, sameRuleContent } from '../shared/model';
import type { AwsTarget, PrefixListReader, SecurityGroupReader } from '../shared/ports';
import { type AlertDeps, postAlert, refreshAlertMessage } from '../violations/alerts';
import type { ExceptionItem, ViolationItem } from '../violations/items';
import { storeClaimed } from '../violations/rule-claims';
import type { Exposure, ExposureClass } from './classify';
import { gradeFinding, recordedExposure, type ViolationExposure } from './grade';
import type { ExposureLookup } from './lookup';
import {
  endsException,
  exposureMove,
  grantedExposure,
  planExceptionEnd,
  planExposureReask,
  planPendingRegrade,
  planUnrecordedRaise,
  type Raising,
  type RegradeCause,
} from './regrade-plan';

export type { RegradeCause } from './regrade-plan';

/** What a re-grade works with: detection's deps (and the scan's) satisfy it. */
export interface RegradeDeps extends AlertDeps {
  groups: SecurityGroupReader;
  /** The invocation's exposure lookup (its cache): each group is looked up once however often asked. */
  exposure: ExposureLookup;
  /** Prefix-list entries, for rules whose source is a list; unset: those rules raise nothing here. */
  prefixLists?: PrefixListReader;
  metrics?: Metrics;
}

/** What the re-grade did for one group. */
export interface GroupRegrade {
  groupId: string;
  exposure: ExposureClass;
  /** The class recorded for the group before (its last re-grade), or null. */
  before: ExposureClass | null;
  /** Pending violations raised (severity, deadline), or only noted (the class fell). */
  raised: number;
  noted: number;
  /** Exceptions that ended with the rule asked again; exceptions granted at `internet` that stand. */
  reasked: number;
  stood: number;
  /** Violating rules with no open record, raised now. */
  created: number;
  /** Why the group was left alone (its exposure or rules could not be read, it is gone). */
  skipped?: string;
}

/** The group's own record of the class it last had: how a rise is told for rules with no open record. */
interface GroupExposureItem extends StoredItem {
  type: 'group-exposure';
  status: ExposureClass;
  createdAt: string;
  at: string;
  eventId: string;
}

const groupKey = (target: AwsTarget, groupId: string) =>
  keys.marker(`exposure#${target.account}#${target.region}#${groupId}`);

/** How many violations one raised alert holds (a DynamoDB transaction: each with its audit entry). */
const MAX_RAISED_PER_ALERT = 45;

function matches(v: ViolationItem, rule: RuleFacts): boolean {
  if (v.rule.ruleId && rule.ruleId) return v.rule.ruleId === rule.ruleId && sameRuleContent(v.rule, rule);
  return sameRuleContent(v.rule, rule);
}

/** A rule judged as detection would (with whoever made it, when known), then graded by the exposure. */
function judge(
  rule: RuleFacts,
  actor: Actor | null,
  exposure: Exposure,
  policy: PolicyConfig,
  context: {
    groupTags: Record<string, string> | null;
    prefixLists: Record<string, string[]>;
    tagSetters: Record<string, TagSetter>;
  },
  at: string,
): { finding: NonNullable<ReturnType<typeof evaluateRule>>; exposure: ViolationExposure } | null {
  const found = evaluateRule(rule, policy, { actor, ...context });
  if (!found) return null;
  const graded = gradeFinding(found, exposure, policy);
  return { finding: graded.finding, exposure: recordedExposure(exposure, at, graded.step) };
}

/**
 * Stores what a re-grade raises as every new violation is stored: each with its rule's claim (one open
 * violation per rule, so the scan or an event raising the rule meanwhile does not raise it twice), then the
 * alert of those stored; a new alert's rules the clock will revoke get their backstops, and it is posted.
 * False when the alert was there already (a redelivery) or every rule is held by another open violation.
 */
async function createRaising(deps: RegradeDeps, raising: Raising): Promise<boolean> {
  const now = deps.clock().toISOString();
  const stored: ViolationItem[] = [];
  for (const v of raising.violations) {
    const audit = raising.audits.find((a) => a.subjectType === 'violation' && a.subjectId === v.violationId)!;
    const outcome = await storeClaimed(deps.store, v, audit, now);
    if (outcome.kind === 'stored') stored.push(v);
    else
      deps.logger.info(
        { violationId: v.violationId, heldBy: outcome.by.violationId, ruleId: v.rule.ruleId },
        'rule already raised; not raised again',
      );
  }
  if (stored.length === 0) return false;
  const violationIds = stored.map((v) => v.violationId);
  const alert = { ...raising.alert, violationIds };
  const alertAudits = raising.audits
    .filter((a) => a.subjectType === 'alert')
    .map((a) => ({ ...a, details: { ...a.details, violations: violationIds } }));
  if (!(await deps.store.createAll([alert as unknown as Record<string, unknown>], alertAudits))) return false;
  const unarmed: string[] = [];
  for (const v of stored) {
    const armed = await armBackstop(deps, dueViolation(v), 'later');
    if (armed.kind === 'failed') unarmed.push(armed.note);
  }
  await postAlert(deps, alert.alertId);
  for (const note of unarmed) await tellBackstop(deps, await alertThread(deps, alert.alertId), note);
  raising.violations = stored;
  return true;
}

/**
 * Re-grades the rules of these groups (in one account and region) because their exposure may have
 * changed without any rule changing. Each group's exposure is looked up again (the invocation's lookup and
 * cache); for every rule that breaks the policy, when the class rose (unattached or internal → internet, or
 * unattached → internal):
 * - a pending violation gets the severity and deadline the new exposure gives, never lower or later, and
 *   its message says what changed, when and who did it;
 * - a kept rule whose exception was granted below `internet` (now `internet`): the exception ends at once
 *   and the rule is asked again in the thread where it was kept, naming the change and who made it;
 *   exceptions granted at `internet` stand;
 * - a rule with no open record is raised now, as a new alert.
 * When the class fell, nothing is relaxed: pending messages only note it. Idempotent: every write is
 * conditional on what was read, and what it creates has IDs derived from what it re-grades, so a
 * redelivered event changes nothing twice. The one entry point for events and the reconciliation scan.
 */
export async function regradeGroups(
  deps: RegradeDeps,
  target: AwsTarget,
  groupIds: readonly string[],
  cause: RegradeCause,
): Promise<GroupRegrade[]> {
  if (!deps.config.policy.exposure.enabled || groupIds.length === 0) return [];
  const pending = (await deps.store.queryByStatus<ViolationItem>('violation', 'PENDING', 1000)).filter(
    (v) => v.account === target.account && v.region === target.region,
  );
  const results: GroupRegrade[] = [];
  let failure: unknown = null;
  for (const groupId of groupIds) {
    try {
      results.push(
        await regradeGroup(
          deps,
          target,
          groupId,
          pending.filter((v) => v.groupId === groupId),
          cause,
        ),
      );
    } catch (error) {
      // One group's trouble never stops the others; anything but an AWS read is thrown after them (retried).
      deps.logger.warn({ groupId, err: describeError(error) }, 'group not re-graded');
      if (error instanceof AwsCallError || error instanceof AccountAccessError) {
        deps.metrics?.add('ExposureUnreadable', 1);
        results.push({ ...empty(groupId, 'unknown', null), skipped: describeError(error) });
      } else failure ??= error;
    }
  }
  if (failure) throw failure;
  return results;
}

function empty(groupId: string, exposure: ExposureClass, before: ExposureClass | null): GroupRegrade {
  return { groupId, exposure, before, raised: 0, noted: 0, reasked: 0, stood: 0, created: 0 };
}

async function regradeGroup(
  deps: RegradeDeps,
  target: AwsTarget,
  groupId: string,
  pending: ViolationItem[],
  cause: RegradeCause,
): Promise<GroupRegrade> {
  const { store, logger } = deps;
  const policy = deps.config.policy;
  const exposure = await deps.exposure.exposureOf(target, groupId);
  const marker = await store.get<GroupExposureItem>(groupKey(target, groupId));
  const before = marker?.status ?? null;
  const result = empty(groupId, exposure.exposure, before);
  if (exposure.exposure === 'unknown') {
    logger.warn({ groupId, failures: exposure.failures }, 'exposure unknown; not re-graded');
    return { ...result, skipped: exposure.reason };
  }
  const groupMove = exposureMove(before, exposure.exposure);
  // Nothing can move: no rise, no pending record to note, and no exception can end below internet.
  if (groupMove !== 'rose' && exposure.exposure !== 'internet' && pending.length === 0) {
    await recordClass(deps, target, groupId, marker, exposure.exposure, cause);
    return result;
  }
  const group = await deps.groups.describeGroup(target, groupId);
  if (!group) return { ...result, skipped: 'the group no longer exists' };
  const rules = await deps.groups.describeGroupRules(target, groupId);
  const prefixLists =
    deps.prefixLists && rules.some((r) => r.sourceKind === 'prefix-list')
      ? await prefixListEntriesFor(deps.prefixLists, target, rules)
      : {};
  const at = deps.clock().toISOString();
  // An exemption tag counts only when a trusted tagger set it, as in detection and the scan.
  const tagSetters = await tagSettersFor(store, policy, target, groupId, group.tags);
  const context = { groupTags: group.tags, prefixLists, tagSetters };
  const touched = new Set<string>();
  const unrecorded: NonNullable<ReturnType<typeof judge>>[] = [];
  const now = deps.clock();

  for (const rule of rules) {
    const open = pending.filter((v) => matches(v, rule));
    for (const v of open) {
      const graded = judge(rule, v.actor, exposure, policy, context, at);
      if (!graded) continue;
      const transition = planPendingRegrade(v, graded, cause, now);
      if (!transition) continue;
      const after = await tryTransition<ViolationItem>(store, transition);
      if (!after) continue;
      if (after.exposureChange?.direction === 'fell') result.noted++;
      else result.raised++;
      touched.add(v.alertId);
    }
    if (open.length > 0) continue;
    const ex = await store.get<ExceptionItem>(
      keys.exception(ruleFingerprint(target.account, target.region, rule)),
    );
    const live = ex?.status === 'ACTIVE' && (ex.expiresAt === null || new Date(ex.expiresAt) > now);
    if (ex && live) {
      const kept = await store.get<ViolationItem>(keys.violation(ex.violationId));
      const granted = grantedExposure(ex, kept);
      if (!endsException(granted, exposure.exposure)) {
        if (exposure.exposure === 'internet') result.stood++;
        continue;
      }
      const graded = judge(rule, kept?.actor ?? null, exposure, policy, context, at);
      if (!graded) continue;
      if (await endAndReask(deps, ex, kept, graded, cause)) result.reasked++;
      continue;
    }
    if (groupMove !== 'rose') continue;
    const graded = judge(rule, null, exposure, policy, context, at);
    if (graded) unrecorded.push(graded);
  }

  if (unrecorded.length > 0) {
    const shown = unrecorded.slice(0, MAX_RAISED_PER_ALERT);
    if (unrecorded.length > shown.length)
      logger.warn({ groupId, found: unrecorded.length, raised: shown.length }, 'rules left to the scan');
    const raising = planUnrecordedRaise(
      target,
      { groupId, groupName: group.name },
      shown,
      cause,
      before,
      marker?.version ?? 0,
      at,
    )!;
    if (await createRaising(deps, raising)) result.created += raising.violations.length;
  }
  for (const alertId of touched) await refreshAlertMessage(deps, alertId);
  await recordClass(deps, target, groupId, marker, exposure.exposure, cause);
  count(deps, result);
  logger.info({ ...result, cause: cause.eventId }, 'group re-graded');
  return result;
}

/** Ends an exception granted below internet and asks again in its thread; false when another run did it. */
async function endAndReask(
  deps: RegradeDeps,
  ex: ExceptionItem,
  kept: ViolationItem | null,
  graded: NonNullable<ReturnType<typeof judge>>,
  cause: RegradeCause,
): Promise<boolean> {
  const now = deps.clock();
  const reask = planExposureReask(ex, kept, graded, cause, now.toISOString());
  // The exception ends first (conditional on the version read): only the winner asks. Should the re-ask
  // not be written after it (a crash), the rule has no open record and a redelivery raises it.
  const ended = await tryTransition(deps.store, planExceptionEnd(ex, reask, cause, now));
  if (!ended) return false;
  await createRaising(deps, reask);
  deps.logger.warn(
    { exception: ex.fingerprint, violationId: ex.violationId, reaskedAs: reask.violations[0]!.violationId },
    'exception granted below internet ended: the group became reachable from the internet',
  );
  return true;
}

/** Records the class the group has now (last, so that a run that died before acting is done again). */
async function recordClass(
  deps: RegradeDeps,
  target: AwsTarget,
  groupId: string,
  marker: GroupExposureItem | null,
  exposure: ExposureClass,
  cause: RegradeCause,
): Promise<void> {
  const at = deps.clock().toISOString();
  if (!marker) {
    const item: GroupExposureItem = {
      ...groupKey(target, groupId),
      type: 'group-exposure',
      status: exposure,
      version: 1,
      createdAt: at,
      at,
      eventId: cause.eventId,
    };
    await deps.store.createAll([item as unknown as Record<string, unknown>], []);
    return;
  }
  if (marker.status === exposure) return;
  await tryTransition(deps.store, {
    key: groupKey(target, groupId),
    from: [marker.status],
    to: exposure,
    expectVersion: marker.version,
    set: { at, eventId: cause.eventId },
    due: null,
    audit: null,
  });
}

function count(deps: RegradeDeps, r: GroupRegrade): void {
  const outcomes: [string, number][] = [
    ['raised', r.raised],
    ['noted', r.noted],
    ['reasked', r.reasked],
    ['stood', r.stood],
    ['created', r.created],
  ];
  for (const [outcome, n] of outcomes) if (n > 0) deps.metrics?.add('ExposureRegrades', n, { outcome });
}
