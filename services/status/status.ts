import type { Config, WhitelistTarget } from '../config/config';
import { evaluate } from '../detection/policy';
import { tagSettersFor } from '../detection/tags';
import type { Exposure } from '../exposure/classify';
import type { ExposureLookup } from '../exposure/lookup';
import type { GrantItem } from '../grants/items';
import { liveGrants } from '../grants/list';
import { OWN_ACCOUNT, targetNamed } from '../grants/plan';
import type { StoredAuditEntry } from '../kernel/audit';
import { type Refusal, recordRefusal } from '../kernel/refusal';
import { keys, type StateStore, type StoredItem } from '../kernel/state';
import type { RunItem, RunStatus } from '../runs/items';
import { ruleFingerprint } from '../shared/ids';
import { type RuleFacts, type Severity, sameRuleContent } from '../shared/model';
import type { Person } from '../shared/people';
import type { SecurityGroupReader } from '../shared/ports';
import type { ExceptionItem, ViolationItem, ViolationStatus } from '../violations/items';
import {
  auditRefusal,
  mayReadAudit,
  mayReadStatus,
  peopleNamedIn,
  type ReaderDeps,
  statusRefusal,
} from './readers';

export interface StatusDeps {
  config: Config;
  store: StateStore;
  ec2: SecurityGroupReader;
  clock: () => Date;
  /** For `/sg-status <group>`: the group's exposure (policy.exposure); unset: not shown. */
  exposure?: ExposureLookup;
}

/** Violations still waiting for an outcome. */
export const OPEN_VIOLATION_STATUSES: readonly ViolationStatus[] = ['PENDING', 'REVOKING', 'REVOKE_RETRY'];
/** SSM runs that SSM has (or is being given): sent and not finished. */
export const IN_FLIGHT_RUN_STATUSES: readonly RunStatus[] = ['SENDING', 'RUNNING', 'POLLING'];
/** How many items of one kind are read for a status screen (the screen shows fewer, with counts). */
const READ_LIMIT = 500;

/** Everything in flight, for `/sg-status`. */
export interface Overview {
  now: Date;
  violations: ViolationItem[];
  exceptions: ExceptionItem[];
  grants: GrantItem[];
  runs: RunItem[];
}

/** Reads what is in flight through the status index (no scan): open violations, kept rules, grants, runs. */
export async function loadOverview(deps: StatusDeps): Promise<Overview> {
  const now = deps.clock();
  const [violations, exceptions, grants, runs] = await Promise.all([
    Promise.all(
      OPEN_VIOLATION_STATUSES.map((s) => deps.store.queryByStatus<ViolationItem>('violation', s, READ_LIMIT)),
    ).then((lists) => lists.flat()),
    activeExceptions(deps, now),
    liveGrants(deps, READ_LIMIT),
    Promise.all(
      IN_FLIGHT_RUN_STATUSES.map((s) => deps.store.queryByStatus<RunItem>('run', s, READ_LIMIT)),
    ).then((lists) => lists.flat()),
  ]);
  // Soonest deadline first; notify-only (no deadline) last.
  violations.sort((a, b) => (a.deadline ?? '9999').localeCompare(b.deadline ?? '9999'));
  exceptions.sort((a, b) => (a.expiresAt ?? '9999').localeCompare(b.expiresAt ?? '9999'));
  grants.sort((a, b) => a.expiresAt.localeCompare(b.expiresAt));
  return { now, violations, exceptions, grants, runs };
}

async function activeExceptions(deps: StatusDeps, now: Date): Promise<ExceptionItem[]> {
  const all = await deps.store.queryByStatus<ExceptionItem>('exception', 'ACTIVE', READ_LIMIT);
  return all.filter((e) => e.expiresAt === null || e.expiresAt > now.toISOString());
}

/** How a live rule stands. */
export type RuleMark =
  | { kind: 'granted'; grant: GrantItem }
  | { kind: 'kept'; exception: ExceptionItem }
  | { kind: 'violation'; severity: Severity; reasons: string[]; pending: ViolationItem | null }
  | { kind: 'ok' };

export interface GroupView {
  now: Date;
  groupId: string;
  region: string;
  alias: string | null;
  groupName: string | null;
  /** False when the group does not exist in the region. */
  exists: boolean;
  /** What the group is attached to and whether the internet reaches it; null or absent when not looked up. */
  exposure?: Exposure | null;
  rules: { rule: RuleFacts; mark: RuleMark }[];
}

export interface GroupRef {
  groupId: string | null;
  alias: string | null;
  region: string | null;
}

/** The group and region a `/sg-status` argument names: a target's, or an sg-ID in the given/home region. */
export function resolveGroupRef(
  config: Config,
  ref: GroupRef,
  homeRegion: string,
): { groupId: string; region: string; account: string; alias: string | null } {
  let target: [string, WhitelistTarget] | undefined;
  if (ref.alias) {
    const t = targetNamed(config, ref.alias);
    if (t) target = [ref.alias, t];
  } else if (ref.groupId) {
    target = Object.entries(config.whitelist.targets).find(
      ([, t]) => t.groupId === ref.groupId && (ref.region === null || t.region === ref.region),
    );
  }
  if (target) {
    const [alias, t] = target;
    return { groupId: t.groupId, region: ref.region ?? t.region, account: t.account ?? OWN_ACCOUNT, alias };
  }
  return { groupId: ref.groupId ?? '', region: ref.region ?? homeRegion, account: OWN_ACCOUNT, alias: null };
}

/**
 * One group's live rules (DescribeSecurityGroupRules in its region), each marked: granted by sg-warden
 * (to whom, until), kept (until), a violation (severity, and the open decision if there is one) or ok.
 */
export async function loadGroupView(deps: StatusDeps, ref: GroupRef, homeRegion: string): Promise<GroupView> {
  const now = deps.clock();
  const where = resolveGroupRef(deps.config, ref, homeRegion);
  const target = { account: where.account, region: where.region };
  const lookup = deps.config.policy.exposure.enabled ? deps.exposure : undefined;
  const [group, rules, overview, exposure] = await Promise.all([
    deps.ec2.describeGroup(target, where.groupId),
    deps.ec2.describeGroupRules(target, where.groupId),
    loadOverview(deps),
    // Never rejects: a failed read is `unknown`.
    lookup ? lookup.exposureOf(target, where.groupId) : null,
  ]);
  const base = {
    now,
    groupId: where.groupId,
    region: where.region,
    alias: where.alias,
    groupName: group?.name ?? null,
  };
  if (!group) return { ...base, exists: false, exposure: null, rules: [] };
  // Exemption tags count only as detection counts them: set by a trusted tagger.
  const tagSetters = await tagSettersFor(deps.store, deps.config.policy, target, where.groupId, group.tags);
  const grantsByRule = new Map(
    overview.grants.filter((g) => g.ruleId && g.region === where.region).map((g) => [g.ruleId!, g]),
  );
  const marked = rules.map((rule) => {
    const grant = rule.ruleId ? grantsByRule.get(rule.ruleId) : undefined;
    if (grant) return { rule, mark: { kind: 'granted' as const, grant } };
    const exception = overview.exceptions.find(
      (e) =>
        e.region === where.region &&
        ((rule.ruleId !== null && e.rule.ruleId === rule.ruleId) ||
          e.fingerprint === ruleFingerprint(e.account, e.region, rule)),
    );
    if (exception) return { rule, mark: { kind: 'kept' as const, exception } };
    const [finding] = evaluate([rule], deps.config.policy, {
      actor: null,
      groupTags: group.tags,
      tagSetters,
    });
    if (finding) {
      const pending =
        overview.violations.find(
          (v) =>
            v.region === where.region &&
            ((rule.ruleId !== null && v.rule.ruleId === rule.ruleId) ||
              (v.rule.groupId === rule.groupId && sameRuleContent(v.rule, rule))),
        ) ?? null;
      return {
        rule,
        mark: { kind: 'violation' as const, severity: finding.severity, reasons: finding.reasons, pending },
      };
    }
    return { rule, mark: { kind: 'ok' as const } };
  });
  const order: Record<RuleMark['kind'], number> = { violation: 0, granted: 1, kept: 2, ok: 3 };
  marked.sort(
    (a, b) =>
      order[a.mark.kind] - order[b.mark.kind] ||
      Number(a.rule.direction === 'egress') - Number(b.rule.direction === 'egress'),
  );
  return { ...base, exists: true, exposure, rules: marked };
}

export interface AuditView {
  now: Date;
  subjectId: string | null;
  /** Newest first. */
  entries: StoredAuditEntry[];
  /** Entries found (may be more than `entries`). */
  total: number;
  /** For the latest-decisions view: the window it covers, in days. */
  days: number;
}

/** Actions that are bookkeeping, not decisions (left out of the latest-decisions view; kept in the trail). */
const BOOKKEEPING = new Set(['notify', 'status-read']);

/**
 * The latest decisions (newest first, reading day partitions backwards from today, at most `days`), or
 * one item's full history when `subjectId` is given.
 */
export async function loadAudit(
  deps: StatusDeps,
  subjectId: string | null,
  options: { limit?: number; days?: number } = {},
): Promise<AuditView> {
  const now = deps.clock();
  const limit = options.limit ?? 25;
  if (subjectId) {
    const entries = (await deps.store.auditFor(subjectId)).sort((a, b) => b.entryId.localeCompare(a.entryId));
    return { now, subjectId, entries, total: entries.length, days: 0 };
  }
  const maxDays = options.days ?? 7;
  const found: StoredAuditEntry[] = [];
  for (let days = 0; days < maxDays && found.length < limit; days++) {
    const day = new Date(now.getTime() - days * 86_400_000).toISOString().slice(0, 10);
    const until = days === 0 ? now.toISOString() : `${day}T23:59:59.999Z`;
    for await (const entry of deps.store.auditSince(`${day}T00:00:00.000Z`, until)) {
      if (!BOOKKEEPING.has(entry.action)) found.push(entry);
    }
  }
  found.sort((a, b) => b.entryId.localeCompare(a.entryId));
  // `days`: the window the view covers (README's "the last 7 days"), not how far the reading went.
  return { now, subjectId: null, entries: found.slice(0, limit), total: found.length, days: maxDays };
}

/** What `/sg-status` asks to see. */
export type StatusRequest =
  | { view: 'overview' }
  | { view: 'group'; ref: GroupRef }
  | { view: 'audit'; subjectId: string | null };

/** What the reader is shown: the view asked for, or the sentence saying who may see it. */
export type StatusAnswer =
  | { view: 'overview'; overview: Overview }
  | { view: 'group'; group: GroupView }
  | { view: 'audit'; audit: AuditView }
  | { view: 'refused'; refusal: Refusal };

/** The item an audit history is about, for the people it names (null for alerts and unknown IDs). */
async function itemOf(deps: StatusDeps, entries: StoredAuditEntry[]): Promise<StoredItem | null> {
  const first = entries[0];
  if (!first) return null;
  const key =
    first.subjectType === 'grant'
      ? keys.grant(first.subjectId)
      : first.subjectType === 'run'
        ? keys.run(first.subjectId)
        : first.subjectType === 'violation' || first.subjectType === 'exception'
          ? keys.violation(first.subjectId)
          : null;
  return key ? deps.store.get<StoredItem>(key) : null;
}

/**
 * `/sg-status` for one reader: the view asked for when the reader may see it (readers.ts), else the
 * refusal — audited, with nothing of the view in it. One item's history is read before the check (the
 * people it names may read it) and is not shown to anyone else.
 */
export async function showStatus(
  deps: StatusDeps & ReaderDeps,
  reader: Person,
  request: StatusRequest,
  homeRegion: string,
): Promise<StatusAnswer> {
  const refuse = async (refusal: Refusal): Promise<StatusAnswer> => {
    await recordRefusal(deps, {
      subject: { id: reader.id, type: 'request' },
      action: 'status-read',
      by: { type: 'slack-user', id: reader.id, name: reader.name },
      refusal,
      details: { view: request.view, ...(request.view === 'audit' ? { subjectId: request.subjectId } : {}) },
    });
    return { view: 'refused', refusal };
  };
  if (request.view === 'audit') {
    if (request.subjectId === null) {
      if (!(await mayReadAudit(deps, reader.id))) return refuse(auditRefusal());
      return { view: 'audit', audit: await loadAudit(deps, null) };
    }
    const audit = await loadAudit(deps, request.subjectId);
    const named = peopleNamedIn(audit.entries, await itemOf(deps, audit.entries));
    if (!(await mayReadAudit(deps, reader.id, named))) return refuse(auditRefusal());
    return { view: 'audit', audit };
  }
  if (!(await mayReadStatus(deps, reader.id))) return refuse(statusRefusal(deps.config));
  if (request.view === 'group')
    return { view: 'group', group: await loadGroupView(deps, request.ref, homeRegion) };
  return { view: 'overview', overview: await loadOverview(deps) };
}
