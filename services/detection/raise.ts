import { keys, type StateStore, tryTransition } from '../kernel/state';
import { ruleFingerprint } from '../shared/ids';
import type { Finding, RuleFacts, SgEvent } from '../shared/model';
import type {
  AccountScope,
  AwsTarget,
  GroupInfo,
  PrefixListReader,
  SecurityGroupReader,
} from '../shared/ports';
import { type AlertDeps, postAlert } from '../violations/alerts';
import { newViolation } from '../violations/factory';
import type { AlertItem, ExceptionItem, ViolationItem } from '../violations/items';
import { detectedAudit } from './detected-audit';
import { ownRuleVerdict } from './own-rules';
import { evaluate } from './policy';
import { prefixListEntriesFor } from './prefix-lists';
import { principalName } from './principal-name';
import { tagSettersFor } from './tags';

/** What the watched-change handlers (tags, prefix lists) need: detection's deps satisfy it. */
export interface WatchDeps extends AlertDeps {
  groups: SecurityGroupReader;
  prefixLists: PrefixListReader;
  accounts: AccountScope;
}

/** What a watched-change handler came to (the fields detection reports for every event). */
export interface WatchResult {
  outcome: 'not-a-rule-change' | 'no-violations' | 'stored' | 'duplicate' | 'refused';
  violations: number;
  posted: boolean;
  skipped: { ruleId: string | null; why: string }[];
}

/** A violation's decision is still open: a second violation for its rule would be a duplicate. */
const OPEN_STATUSES = ['PENDING', 'REVOKING', 'REVOKE_RETRY'] as const;

/** The rule IDs with an open violation in this account and region (status index, no scan). */
export async function openViolationRuleIds(store: StateStore, target: AwsTarget): Promise<Set<string>> {
  const lists = await Promise.all(
    OPEN_STATUSES.map((status) => store.queryByStatus<ViolationItem>('violation', status, 1000)),
  );
  return new Set(
    lists
      .flat()
      .filter((v) => v.account === target.account && v.region === target.region && v.rule.ruleId)
      .map((v) => v.rule.ruleId!),
  );
}

/**
 * Judges rules as EC2 has them now, outside any rule change (a tag removed, a prefix list widened, a
 * description changed): leaves out the bot's own rules while they are still what it made, kept rules and
 * rules whose violation is still open, then evaluates the rest with the group's tags (and who set them).
 * Nobody in the event made these rules, so no principal rule applies (the actor is not passed).
 */
export async function judgeLiveRules(
  deps: WatchDeps,
  event: Pick<SgEvent, 'account' | 'region' | 'actor'>,
  rules: readonly RuleFacts[],
  group: GroupInfo | null,
): Promise<{ findings: Finding[]; skipped: { ruleId: string | null; why: string }[] }> {
  const target: AwsTarget = { account: event.account, region: event.region };
  const skipped: { ruleId: string | null; why: string }[] = [];
  const open = await openViolationRuleIds(deps.store, target);
  const now = deps.clock();
  const candidates: { rule: RuleFacts; leading: string[] }[] = [];
  for (const rule of rules) {
    if (rule.ruleId && open.has(rule.ruleId)) {
      skipped.push({ ruleId: rule.ruleId, why: 'its violation is still open' });
      continue;
    }
    const verdict = await ownRuleVerdict(deps, event, rule);
    if (verdict.kind === 'own') {
      skipped.push({ ruleId: rule.ruleId, why: `granted by sg-warden (${verdict.grantId})` });
      continue;
    }
    const exception = await deps.store.get<ExceptionItem>(
      keys.exception(ruleFingerprint(target.account, target.region, rule)),
    );
    if (
      exception?.status === 'ACTIVE' &&
      (exception.expiresAt === null || new Date(exception.expiresAt) > now)
    ) {
      skipped.push({ ruleId: rule.ruleId, why: `kept until ${exception.expiresAt ?? 'revoked'}` });
      continue;
    }
    candidates.push({ rule, leading: verdict.kind === 'changed' ? [verdict.reason] : [] });
  }
  if (candidates.length === 0) return { findings: [], skipped };
  const prefixLists = await prefixListEntriesFor(
    deps.prefixLists,
    target,
    candidates.map((c) => c.rule),
  );
  const tags = group?.tags ?? null;
  const tagSetters = group
    ? await tagSettersFor(deps.store, deps.config.policy, target, group.groupId, tags)
    : null;
  const byRule = new Map(candidates.map((c) => [c.rule, c]));
  const findings = evaluate(
    candidates.map((c) => c.rule),
    deps.config.policy,
    { actor: null, groupTags: tags, prefixLists, tagSetters },
  ).map((f) => ({ ...f, reasons: [...(byRule.get(f.rule)?.leading ?? []), ...f.reasons] }));
  return { findings, skipped };
}

/** One alert to raise: what it tells (notices) and the violations it asks about (findings). */
export interface RaiseRequest {
  /** Deterministic per event and group, so a redelivery finds it. */
  alertId: string;
  event: SgEvent;
  groupId: string;
  groupName: string | null;
  notices: string[];
  findings: Finding[];
  /** What found the violations, for the audit and the ViolationsRaised metric (services/metrics). */
  foundBy: 'tag-change' | 'prefix-list';
}

export interface RaiseResult {
  outcome: 'stored' | 'duplicate';
  violations: number;
  posted: boolean;
}

/**
 * Stores an alert with its notices and violations and posts it once, the way detection stores an
 * event's alert: the alert is created first (STORING, so a concurrent delivery stops there), then the
 * violations, then it becomes UNNOTIFIED and is posted (a sweep posts it if Slack fails). A redelivery
 * creates nothing and posts nothing twice.
 */
export async function raiseAlert(deps: AlertDeps, request: RaiseRequest): Promise<RaiseResult> {
  const { store } = deps;
  const { event } = request;
  const key = keys.alert(request.alertId);
  const existing = await store.get<AlertItem>(key);
  if (existing && existing.status !== 'STORING') {
    const posted = existing.status === 'UNNOTIFIED' ? await postAlert(deps, existing.alertId) : false;
    return { outcome: 'duplicate', violations: existing.violationIds.length, posted };
  }
  const nowIso = deps.clock().toISOString();
  const alert: AlertItem = existing ?? {
    ...key,
    type: 'alert',
    status: 'STORING',
    version: 1,
    alertId: request.alertId,
    eventId: event.eventId,
    eventName: event.eventName,
    eventTime: event.eventTime,
    region: event.region,
    account: event.account,
    groupId: request.groupId,
    groupName: request.groupName,
    actor: event.actor,
    violationIds: [],
    notifyAttempts: 0,
    createdAt: nowIso,
    notices: request.notices,
  };
  const violations = request.findings.map((f, index) =>
    newViolation(alert, f, { index, groupName: request.groupName, now: nowIso }),
  );
  // A delivery that stopped part way left some violations: keep them, add the rest.
  alert.violationIds = [...new Set([...alert.violationIds, ...violations.map((v) => v.violationId)])];
  if (!existing && !(await store.createAll([alert as unknown as Record<string, unknown>], []))) {
    return { outcome: 'duplicate', violations: 0, posted: false };
  }
  for (const v of violations) {
    // One by one: a redelivery that got part way finds some already there, and skips them.
    await store.createAll(
      [v as unknown as Record<string, unknown>],
      [detectedAudit(v, nowIso, { foundBy: request.foundBy })],
    );
  }
  const stored = await tryTransition(store, {
    key,
    from: ['STORING'],
    to: 'UNNOTIFIED',
    set: { violationIds: alert.violationIds, notices: request.notices },
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
        groupId: request.groupId,
        violations: alert.violationIds,
        notices: request.notices,
        sourceIp: event.actor.sourceIp,
      },
      at: nowIso,
    },
  });
  if (!stored) return { outcome: 'duplicate', violations: violations.length, posted: false };
  const posted = await postAlert(deps, alert.alertId);
  return { outcome: 'stored', violations: violations.length, posted };
}
