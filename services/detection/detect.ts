import { askActor } from '../actors/ask';
import type { AskDeps } from '../actors/deps';
import { alertThread, armBackstop, disarmOrTell, tellBackstop } from '../backstop/backstop';
import { recordBackstopRevoke } from '../backstop/fired';
import { dueViolation } from '../backstop/plan';
import { gradeFindings, type ViolationExposure } from '../exposure/grade';
import type { ExposureLookup } from '../exposure/lookup';
import type { GrantChangeNotifier } from '../grants/changed-rule';
import { endGrantForChangedRule } from '../grants/changed-rule';
import type { GrantNotifier, GrantSessions } from '../grants/deps';
import type { GrantItem } from '../grants/items';
import { readAhead } from '../kernel/read-ahead';
import { keyId, keys, tryMove } from '../kernel/state';
import { alertRouteFacts, routeFor } from '../routing/routes';
import type { SessionPorts } from '../sessions/deps';
import { AccountAccessError, describeError } from '../shared/errors';
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
import type { AlertItem, ViolationItem } from '../violations/items';
import {
  CLAIMED_PER_TRANSACTION,
  freeToRaise,
  storeAllClaimed,
  storeClaimed,
} from '../violations/rule-claims';
import { detectedAudit } from './detected-audit';
import { intakeRefusal, refuseEvent } from './intake';
import { eventActor } from './own-rules';
import { evaluate } from './policy';
import { handlePrefixListChange } from './prefix-list-changes';
import { principalName } from './principal-name';
import { openViolationRuleIds } from './raise';
import { confirmRemovals } from './removals';
import { type CheckedRule, resolveRules } from './rules';
import { type Candidate, judge, prefixListsFor, screenKeys, screenRule } from './screen';
import { handleTagChange } from './tag-changes';
import { tagSettersFor } from './tags';
import { resolveWatchedRules } from './watched-rules';

export { principalName } from './principal-name';

export interface DetectionDeps extends AskDeps, PosterDeps {
  groups: SecurityGroupReader;
  /** Prefix-list entries; give each invocation its own cachedPrefixLists(). */
  prefixLists: PrefixListReader;
  accounts: AccountScope;
  /** Tells a grant's owner when the grant ended because its rule was changed. */
  grantOwners: GrantChangeNotifier;
  /** Tells a grant's owner that it ended (the backstop revoked its rule). */
  grantNotifier?: Pick<GrantNotifier, 'ended'>;
  /** Ends a grant's sessions when the backstop revoked its rule (whitelist `endSessions`). */
  endGrantSessions?: (grant: GrantItem) => Promise<GrantSessions>;
  /** The groups' exposure (policy.exposure); give each invocation its own. Unset: severities are the rules' own. */
  exposure?: ExposureLookup;
  /** Run Command for `policy.endSessionsOnRevoke` when the backstop revoked a violation's rule (backstop/fired.ts). */
  sessions?: SessionPorts;
}

export interface DetectionResult {
  eventId: string;
  outcome:
    | 'not-a-rule-change'
    | 'no-violations'
    | 'duplicate'
    | 'stored'
    | 'resolved-gone'
    /** The backstop revoked the rules it names (the sweeper was late): recorded as its. */
    | 'backstop-fired'
    /** Removals the event claimed that EC2 did not confirm: the violations stay pending. */
    | 'unconfirmed'
    /** Not evaluated: an unwatched account, or an event that contradicts itself. */
    | 'refused'
    /** Every violating rule is already an open violation (raised by an earlier event or the scan). */
    | 'already-raised';
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
  exposures: readonly (ViolationExposure | null)[] = [],
): ViolationItem[] {
  return findings.map((f, index) => {
    const exposure = exposures[index];
    return newViolation(alert, f, { index, groupName, now, ...(exposure ? { exposure } : {}) });
  });
}

/**
 * Writes violations, each with its audit entry and its rule's claim, and returns the ones stored (by this
 * call or an earlier delivery of the same event). A rule whose claim another open violation holds (the
 * scan, or another event, got there first) is left out.
 */
async function storeViolations(
  deps: DetectionDeps,
  violations: ViolationItem[],
  now: string,
): Promise<ViolationItem[]> {
  const stored: ViolationItem[] = [];
  for (const v of violations) {
    const outcome = await storeClaimed(deps.store, v, detectedAudit(v, now), now);
    if (outcome.kind === 'stored') stored.push(v);
    else
      deps.logger.info(
        { violationId: v.violationId, heldBy: outcome.by.violationId, ruleId: v.rule.ruleId },
        'rule already raised; not raised again',
      );
  }
  return stored;
}

/** What EC2 says of an event's rules and group, or why sg-warden cannot ask it (the account). */
interface Ec2View {
  unreachable: string | null;
  checked: CheckedRule[];
  group: GroupInfo | null;
  /** The group was asked about (null `group`: EC2 does not have it there). */
  groupKnown: boolean;
  mismatched: string[];
}

/**
 * Confirms in EC2 what the event claims: its rules (by ID, or by content) and its group (tags), both
 * read at once when the event names the group. An account sg-warden cannot act in is `unreachable`.
 */
async function readInEc2(
  deps: DetectionDeps,
  event: SgEvent,
  watched: boolean,
  log: DetectionDeps['logger'],
): Promise<Ec2View> {
  const target: AwsTarget = { account: event.account, region: event.region };
  const none = { checked: [], group: null, groupKnown: false, mismatched: [] };
  // Never the bot's own account for another one: a rule the central account does not know is not "gone".
  const cannotAct = deps.accounts.cannotAct(event.account);
  if (cannotAct) return { ...none, unreachable: new AccountAccessError(event.account, cannotAct).message };
  const readGroup = (groupId: string) =>
    deps.groups.describeGroup(target, groupId).then(
      (group) => ({ group, known: true }),
      (error: unknown) => {
        if (error instanceof AccountAccessError) throw error;
        // Tags only refine the policy (exemptions, only-from); evaluate without them rather than drop the event.
        log.warn({ groupId, err: describeError(error) }, 'group tags unavailable');
        return { group: null, known: false };
      },
    );
  const early = event.groupId ? readGroup(event.groupId) : null;
  early?.catch(() => {});
  try {
    const resolved = watched
      ? await resolveWatchedRules(deps.groups, event)
      : await resolveRules(deps.groups, event);
    const groupId = event.groupId ?? resolved.rules[0]?.rule.groupId;
    const read = early ?? (groupId ? readGroup(groupId) : null);
    const got = read ? await read : { group: null, known: false };
    return {
      unreachable: null,
      checked: resolved.rules,
      group: got.group,
      groupKnown: got.known,
      mismatched: resolved.mismatched,
    };
  } catch (error) {
    if (!(error instanceof AccountAccessError)) throw error;
    return { ...none, unreachable: error.message };
  }
}

/** Every rule the event's record names: what it added and what a modify asked for (hints until EC2 agrees). */
function namedRules(event: SgEvent): RuleFacts[] {
  return [...event.rules, ...(event.requested ?? [])];
}

/** True when the rules the event names would violate the policy as they are (tags and prefix lists aside). */
function hintsViolate(deps: DetectionDeps, event: SgEvent): boolean {
  const hinted = namedRules(event);
  if (hinted.length === 0) return false;
  return (
    evaluate(hinted, deps.config.policy, { actor: event.actor, groupTags: null, prefixLists: {} }).length > 0
  );
}

/**
 * A new event's alert, then its violations with their claims and entries, in as few transactions as
 * fit (the alert with the first ones); a part in which anything existed (a claim held, a race) or that
 * failed is stored one by one instead, which sorts out each case. 'duplicate' when another delivery of the
 * event created the alert first.
 */
async function storeNew(
  deps: DetectionDeps,
  alert: AlertItem,
  free: ViolationItem[],
  now: string,
): Promise<ViolationItem[] | 'duplicate'> {
  const record = alert as unknown as Record<string, unknown>;
  const stored: ViolationItem[] = [];
  for (let start = 0; start < free.length; start += CLAIMED_PER_TRANSACTION) {
    const part = free.slice(start, start + CLAIMED_PER_TRANSACTION);
    const withAlert = start === 0 ? record : null;
    const audited = part.map((v) => ({ violation: v, audit: detectedAudit(v, now) }));
    // Any failure of the one transaction (a condition, a throttle past the SDK's retries) is retried the
    // long way, alert first: what that stores is what a re-delivery of the event resumes from.
    const together = await storeAllClaimed(deps.store, withAlert, audited, now).catch((error: unknown) => {
      deps.logger.warn(
        { err: describeError(error) },
        'violations not stored in one write; storing them one by one',
      );
      return false;
    });
    if (together) {
      stored.push(...part);
      continue;
    }
    if (withAlert && !(await deps.store.createAll([withAlert], []))) return 'duplicate';
    stored.push(...(await storeViolations(deps, part, now)));
  }
  return stored;
}

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
  if (event.kind === 'revoke' && deps.backstop?.isExecutionRole(event.account, event.actor.roleArn)) {
    // The backstop's own revoke: the sweeper was late. Confirmed in EC2, recorded as the backstop's.
    const fired = await recordBackstopRevoke({ ...deps, backstop: deps.backstop }, event);
    if (fired > 0) return { ...result, outcome: 'backstop-fired' };
  }
  if (event.kind === 'revoke' || event.kind === 'delete-group') {
    const { gone, refused } = await confirmRemovals(deps, event);
    const outcome = gone > 0 ? 'resolved-gone' : refused > 0 ? 'unconfirmed' : 'not-a-rule-change';
    return { ...result, outcome };
  }
  // Calls that can silence sg-warden without adding a rule (README "Watched changes").
  if (event.kind === 'tags-added' || event.kind === 'tags-removed')
    return { ...result, ...(await handleTagChange(deps, event)) };
  if (event.kind === 'prefix-list') return { ...result, ...(await handlePrefixListChange(deps, event)) };
  if (event.kind === 'create-group' && event.tagChange) await handleTagChange(deps, event);
  const watched =
    event.kind === 'describe-rules' || (event.kind === 'create-group' && deps.config.policy.evaluateEgress);
  if (event.kind !== 'authorize' && event.kind !== 'modify' && !watched)
    return { ...result, outcome: 'not-a-rule-change' };
  if (event.kind === 'authorize' && event.rules.length === 0) {
    log.warn({ groupId: event.groupId }, 'authorize event names no rule sg-warden can read; not evaluated');
    return result;
  }

  const target: AwsTarget = { account: event.account, region: event.region };
  // EC2's view of what the event claims, read while the table is: one batch read of whether this event
  // was handled and what screening and raising the rules it names will read (own-rule records,
  // exceptions, rule claims; EC2's rules may differ: those are read then). A re-delivery wastes the EC2 read.
  const inEc2 = readInEc2(deps, event, watched, log);
  inEc2.catch(() => {});
  const hintedKeys = screenKeys(target, namedRules(event));
  const ahead = await readAhead(store, [keys.alert(event.eventId), ...hintedKeys]);
  const existing = await ahead.get<AlertItem>(keys.alert(event.eventId));
  if (existing && existing.status !== 'STORING') {
    log.info({ status: existing.status }, 'event already processed');
    const posted = existing.status === 'UNNOTIFIED' ? await postAlert(deps, existing.alertId) : false;
    // A delivery that died after storing may not have asked the author yet (asked at most once).
    await askActor(deps, existing.alertId, existing.actor);
    return { ...result, outcome: 'duplicate', violations: existing.violationIds.length, posted };
  }
  // The group's exposure, when what the event names looks like a violation: looked up meanwhile.
  if (
    deps.exposure &&
    deps.config.policy.exposure.enabled &&
    event.groupId &&
    !deps.accounts.cannotAct(event.account) &&
    hintsViolate(deps, event)
  )
    void deps.exposure.exposureOf(target, event.groupId);

  const seen = await inEc2;
  let { unreachable, checked, group } = seen;
  const { groupKnown } = seen;
  for (const why of seen.mismatched)
    result.skipped.push({ ruleId: null, why: `event does not match EC2: ${why}` });
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
  // A watched call adds no rule: a rule whose violation is still open is not raised again.
  const open = watched ? await openViolationRuleIds(store, target) : null;
  // What screening and raising read of the rules as EC2 has them, past what the event named: one more batch.
  const readAlready = new Set(hintedKeys.map(keyId));
  const screening = await readAhead(
    ahead,
    screenKeys(
      target,
      checked.map((c) => c.rule),
    ).filter((k) => !readAlready.has(keyId(k))),
  );
  for (const { rule, confirmed } of checked) {
    if (rule.ruleId && open?.has(rule.ruleId)) {
      result.skipped.push({ ruleId: rule.ruleId, why: 'its violation is still open' });
      continue;
    }
    const screened = await screenRule({ ...deps, store: screening }, event, rule, now);
    if (screened.kind !== 'evaluate') {
      result.skipped.push({ ruleId: rule.ruleId, why: screened.why });
      continue;
    }
    const candidate: Candidate = { rule, leading: screened.leading, trailing: [] };
    // Only EC2's view of the rule ends a grant: a record alone could be forged.
    if (confirmed && screened.changedGrant?.status === 'ACTIVE')
      await endChangedGrant(deps, event, rule, screened.changedGrant);
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
  if (!unreachable) {
    const read = await prefixListsFor(
      deps.prefixLists,
      target,
      candidates.map((c) => c.rule),
    );
    prefixLists = read.entries;
    if (read.unreadable) {
      // A member role from before prefix lists were read: say so, and judge the rest.
      log.warn({ err: read.unreadable }, 'prefix list entries unreadable');
      result.skipped.push({ ruleId: null, why: `prefix list entries unreadable: ${read.unreadable}` });
    }
  }
  // An exemption tag counts only when a trusted tagger set it (tags.ts).
  const tagSetters = group
    ? await tagSettersFor(store, deps.config.policy, target, group.groupId, group.tags)
    : null;
  // The group's exposure steps each finding's severity (policy.exposure), read in its own account and
  // region; not where sg-warden cannot act (its findings are notify-only anyway).
  const graded = await gradeFindings(
    unreachable ? undefined : deps.exposure,
    target,
    judge(candidates, deps.config.policy, {
      actor: event.actor,
      groupTags: group?.tags ?? null,
      prefixLists,
      tagSetters,
    }),
    deps.config.policy,
    clock,
  );
  const findings = graded.map(
    ({ finding: f }): Finding =>
      // Nothing can be revoked where sg-warden cannot act: tell, never count down.
      unreachable ? { ...f, action: 'notify', timeoutSeconds: null } : f,
  );
  if (findings.length === 0) return result;
  const groupId = event.groupId ?? findings[0]!.rule.groupId;

  const nowIso = now.toISOString();
  // The channel and the people who decide: by the group's tags as EC2 has them (none when unreadable).
  const routed = routeFor(
    deps.config,
    alertRouteFacts({
      account: event.account,
      region: event.region,
      actor: event.actor,
      tags: group?.tags ?? null,
      severities: findings.map((f) => f.severity),
    }),
  );
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
    route: routed.route,
    channel: routed.channel,
    ...(routed.mention ? { mention: routed.mention } : {}),
    createdAt: nowIso,
  };
  const planned = planViolations(
    alert,
    findings,
    group?.name ?? null,
    nowIso,
    graded.map((g) => g.exposure),
  );
  // One open violation per rule: a rule the scan or an earlier event already raised is not raised again.
  const { free, held } = await freeToRaise(screening, planned);
  for (const h of held)
    result.skipped.push({
      ruleId: h.violation.rule.ruleId,
      why: `already raised as ${h.by.violationId} (${h.by.status})`,
    });
  if (free.length === 0) return { ...result, outcome: 'already-raised' };
  alert.violationIds = free.map((v) => v.violationId);
  const violations = existing
    ? await storeViolations(deps, free, nowIso)
    : await storeNew(deps, alert, free, nowIso);
  if (violations === 'duplicate') {
    // A concurrent delivery of the same event got there first; it finishes the work.
    return { ...result, outcome: 'duplicate' };
  }
  if (violations.length === 0) {
    // Every rule was raised by another path between the check and the write: nothing to post.
    log.info({ alertId: alert.alertId }, 'every rule already raised elsewhere; alert left unposted');
    return { ...result, outcome: 'already-raised' };
  }
  alert.violationIds = violations.map((v) => v.violationId);
  // Each rule the clock will revoke gets its backstop before the alert counts as stored (a re-delivery
  // of an event left STORING arms again: the same names, so nothing doubles).
  const unarmed: string[] = [];
  for (const v of violations) {
    const armed = await armBackstop(deps, dueViolation(v), 'later');
    if (armed.kind === 'failed') unarmed.push(armed.note);
  }
  // Only a lost race means another delivery finished the work; any other failure is thrown, so the
  // event is delivered again (an alert left STORING would never be posted while its deadlines run).
  const stored = await tryMove(store, {
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
        route: alert.route ?? null,
        channel: alert.channel ?? deps.config.slack.alertChannel,
      },
      at: nowIso,
    },
  });
  if (!stored) return { ...result, outcome: 'duplicate', violations: violations.length };
  log.info({ violations: violations.length, alertId: alert.alertId }, 'violations stored');
  // At once, as its own message, unless the channel has a burst waiting: then as part of a digest.
  // Violations this delivery wrote are shown as written; resuming an earlier delivery, as they are stored.
  const posted = await announceAlert(deps, alert.alertId, alert, existing ? undefined : violations);
  // Rules without a backstop are told in the alert's thread (the channel, when it is not posted yet).
  for (const note of unarmed) await tellBackstop(deps, await alertThread(deps, alert.alertId), note);
  // After the alert, never before it: the author's direct message (askActor never throws).
  await askActor(deps, alert.alertId, alert.actor);
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
  // The rule is no longer the grant's: its backstop must not revoke it (it is judged like any rule now).
  await disarmOrTell(
    deps,
    { kind: 'grant', id: ended.grantId, target: { account: ended.account, region: ended.region } },
    { channel: null },
  );
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
