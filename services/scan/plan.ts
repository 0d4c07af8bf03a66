import { createHash } from 'node:crypto';
import type { ExposureClass } from '../exposure/classify';
import type { ViolationExposure } from '../exposure/grade';
import { endsException, exposureMove, type RegradeCause } from '../exposure/regrade-plan';
import { type AuditEntry, auditEntry, SYSTEM_ACTOR } from '../kernel/audit';
import { keys, type StoredItem } from '../kernel/state';
import { plusSeconds } from '../kernel/time';
import type { RouteChoice } from '../routing/routes';
import { AwsCallError } from '../shared/errors';
import type { Actor, Finding } from '../shared/model';
import type { AccountScope, AwsTarget, GroupInfo } from '../shared/ports';
import { newViolation } from '../violations/factory';
import type { AlertItem, ExceptionItem, ViolationItem } from '../violations/items';

// The scan's pure part: what it reads (targets), where it stands (the cursor), what it raises (the alert
// and violations of one group), and when it stops.

/** Where one account and region stands in the current run. */
export interface TargetProgress {
  account: string;
  region: string;
  state: 'todo' | 'done' | 'error';
  /** The token of the groups page being read (null: the first page). */
  pageToken: string | null;
  /** The last group of that page already judged (groups are judged in ID order within a page). */
  doneThrough: string | null;
  error?: string;
}

/** What a run has done so far; the summary when it ends. */
export interface ScanTotals {
  rulesRead: number;
  groups: number;
  violationsRaised: number;
  /** Violating rules already open as a violation (raised by an event, an earlier scan or a re-ask). */
  alreadyKnown: number;
  errors: number;
  awsCalls: number;
}

export const NO_TOTALS: ScanTotals = {
  rulesRead: 0,
  groups: 0,
  violationsRaised: 0,
  alreadyKnown: 0,
  errors: 0,
  awsCalls: 0,
};

/** The cursor item: one per table, the run in progress or the last one. */
export interface ScanCursorItem extends StoredItem {
  type: 'scan';
  /** RUNNING: an invocation holds it until `leaseUntil`; PAUSED: out of time, to be resumed; DONE: finished. */
  status: 'RUNNING' | 'PAUSED' | 'DONE';
  runId: string;
  startedAt: string;
  leaseUntil: string;
  invocations: number;
  targets: Record<string, TargetProgress>;
  totals: ScanTotals;
  finishedAt?: string;
  createdAt: string;
}

export const targetKey = (t: AwsTarget): string => `${t.account}/${t.region}`;

/** Every account the scan reads (the bot's own, then `accounts.watched`) in every region. */
export function scanTargets(
  accounts: AccountScope,
  watched: readonly string[],
  regions: readonly string[],
): AwsTarget[] {
  const own = accounts.ownAccount ?? 'self';
  const all = [own, ...watched.filter((a) => a !== own)];
  return all.flatMap((account) => [...new Set(regions)].map((region) => ({ account, region })));
}

/** A fresh run's ID: sortable by start time, unique across invocations. */
export function newRunId(now: Date, random: () => number = Math.random): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `scan-${stamp}-${Math.floor(random() * 0xffffff)
    .toString(16)
    .padStart(6, '0')}`;
}

/** The cursor of a new run over these targets, held by this invocation until `leaseSeconds` from now. */
export function newCursor(
  runId: string,
  targets: readonly AwsTarget[],
  now: Date,
  leaseSeconds: number,
): ScanCursorItem {
  const nowIso = now.toISOString();
  return {
    ...keys.scanCursor(),
    type: 'scan',
    status: 'RUNNING',
    version: 1,
    runId,
    startedAt: nowIso,
    leaseUntil: plusSeconds(now, leaseSeconds),
    invocations: 1,
    targets: Object.fromEntries(
      targets.map((t) => [
        targetKey(t),
        { account: t.account, region: t.region, state: 'todo', pageToken: null, doneThrough: null },
      ]),
    ),
    totals: { ...NO_TOTALS },
    createdAt: nowIso,
  };
}

/** What an invocation does with the cursor it finds. */
export type CursorDecision = 'start' | 'resume' | 'busy';

/** Start a new run, resume one that paused (or whose invocation died holding it), or leave it to its holder. */
export function decideCursor(cursor: ScanCursorItem | null, now: Date): CursorDecision {
  if (!cursor || cursor.status === 'DONE') return 'start';
  if (cursor.status === 'PAUSED') return 'resume';
  return new Date(cursor.leaseUntil) <= now ? 'resume' : 'busy';
}

/** The groups of a page still to judge, in ID order, in chunks of `size`. */
export function chunksToJudge(
  groups: readonly GroupInfo[],
  doneThrough: string | null,
  size: number,
): GroupInfo[][] {
  const todo = [...groups]
    .sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0))
    .filter((g) => doneThrough === null || g.groupId > doneThrough);
  const chunks: GroupInfo[][] = [];
  for (let i = 0; i < todo.length; i += size) chunks.push(todo.slice(i, i + size));
  return chunks;
}

/** EC2 and STS answers that mean "slow down": retried with backoff, never a reason to give up on a target. */
const THROTTLING = new Set([
  'RequestLimitExceeded',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'SlowDown',
]);

export function isThrottling(error: unknown): boolean {
  return error instanceof AwsCallError && THROTTLING.has(error.awsCode);
}

/** Who "made" a rule the scan found: nobody known (no CloudTrail event, so no principal). */
export const SCAN_ACTOR: Actor = {
  arn: 'unknown (found by the scan: no CloudTrail event)',
  type: 'Unknown',
  roleArn: null,
  invokedBy: null,
  sourceIp: null,
  userAgent: null,
};

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** The alert of one group in one run: the same ID if the run judges the group again after a crash. */
export function scanAlertId(runId: string, target: AwsTarget, groupId: string): string {
  return `scan-${digest(`${runId}|${target.account}|${target.region}|${groupId}`)}`;
}

/**
 * The alert and the violations the scan raises for one group: the one place a scan finding becomes a
 * violation, with the exposure it was graded by (`exposures[i]` for `findings[i]`; null: not looked up).
 * Same flow as an event's: PENDING with the policy's deadline, Revoke / Keep; the alert says it was found
 * by the scan, with the group's tags.
 */
export function planScanAlert(
  runId: string,
  target: AwsTarget,
  group: GroupInfo,
  findings: readonly Finding[],
  nowIso: string,
  exposures: readonly (ViolationExposure | null)[] = [],
  /** Where slack.routes sends it (as detection routes an event's alert); default: the alert channel. */
  routed?: RouteChoice,
): { alert: AlertItem; violations: ViolationItem[] } {
  const alertId = scanAlertId(runId, target, group.groupId);
  const alert: AlertItem = {
    ...keys.alert(alertId),
    type: 'alert',
    status: 'STORING',
    version: 1,
    alertId,
    eventId: runId,
    eventName: 'Scan',
    eventTime: nowIso,
    region: target.region,
    account: target.account,
    groupId: group.groupId,
    groupName: group.name,
    groupTags: group.tags,
    foundBy: 'scan',
    actor: SCAN_ACTOR,
    violationIds: [],
    notifyAttempts: 0,
    ...(routed
      ? {
          route: routed.route,
          channel: routed.channel,
          ...(routed.mention ? { mention: routed.mention } : {}),
        }
      : {}),
    createdAt: nowIso,
  };
  const violations = findings.map((f, index) => {
    const exposure = exposures[index];
    return {
      ...newViolation(alert, f, {
        index,
        groupName: group.name,
        now: nowIso,
        ...(exposure ? { exposure } : {}),
      }),
      foundBy: 'scan' as const,
    };
  });
  alert.violationIds = violations.map((v) => v.violationId);
  return { alert, violations };
}

/** The audit entry of a violation the scan raised: by sg-warden, found by the scan (the metric's `foundBy`). */
export function scanDetectAudit(v: ViolationItem, runId: string, nowIso: string): AuditEntry {
  return auditEntry({ id: v.violationId, type: 'violation' }, SYSTEM_ACTOR, {
    action: 'detect',
    fromState: null,
    toState: 'PENDING',
    result: 'ok',
    details: {
      foundBy: 'scan',
      runId,
      severity: v.severity,
      ...(v.exposure
        ? { exposure: v.exposure.exposure, severityBeforeExposure: v.exposure.from ?? v.severity }
        : {}),
      rule: v.rule,
      reasons: v.reasons,
      deadline: v.deadline,
      dryRun: v.dryRun,
    },
    at: nowIso,
  });
}

/**
 * What the scan passes the re-grade as the change's cause: no CloudTrail event told of it, so no principal;
 * the message reads "… since 10:02 — sg-warden's scan found it (no CloudTrail event told of the change)".
 */
export function scanCause(runId: string, nowIso: string): RegradeCause {
  return {
    eventId: runId,
    eventName: 'Scan',
    eventTime: nowIso,
    actor: null,
    byName: 'sg-warden’s scan',
    what: 'found it (no CloudTrail event told of the change)',
  };
}

/**
 * Whether a group's exposure now rose above what sg-warden last recorded for its violating rules: a
 * pending violation graded at a lower class (or at none, when the group is now `internet`), or a kept rule
 * whose exception was granted below `internet` (or at an exposure not recorded on it) while the group is
 * now `internet`. Then the scan re-grades the group (exposure/regrade.ts), as an event of the change would.
 */
export function exposureRose(
  now: ExposureClass | null,
  open: readonly Pick<ViolationItem, 'status' | 'exposure'>[],
  kept: readonly Pick<ExceptionItem, 'grantedAt'>[],
): boolean {
  if (now === null) return false;
  return (
    open.some((v) => v.status === 'PENDING' && exposureMove(v.exposure?.exposure ?? null, now) === 'rose') ||
    kept.some((ex) => endsException(ex.grantedAt?.exposure ?? null, now))
  );
}

/** The marker that lets one notice per unreadable account and region and day into the alert channel. */
export function noticeMarkerName(target: AwsTarget, now: Date): string {
  return `scan-unreadable#${target.account}#${target.region}#${now.toISOString().slice(0, 10)}`;
}

/** The summary line's fields: what a run did and how long it took (wall time, pauses included). */
export function summaryOf(
  cursor: ScanCursorItem,
  finishedAt: Date,
): ScanTotals & { runId: string; tookSeconds: number; invocations: number } {
  return {
    runId: cursor.runId,
    ...cursor.totals,
    tookSeconds: Math.max(0, Math.round((finishedAt.getTime() - Date.parse(cursor.startedAt)) / 100) / 10),
    invocations: cursor.invocations,
  };
}

/** Adds `more` to `totals`. */
export function addTotals(totals: ScanTotals, more: Partial<ScanTotals>): ScanTotals {
  const sum = { ...totals };
  for (const [k, v] of Object.entries(more) as [keyof ScanTotals, number][]) sum[k] += v;
  return sum;
}
