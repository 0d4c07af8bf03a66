import { StateConflictError } from '../shared/errors';
import type { Actor, Finding, RuleFacts, Severity } from '../shared/model';

/** Kinds of due work the sweeper finds through the "due by time" index. */
export type DueKind =
  | 'DEADLINE' // a pending violation's auto-revoke deadline
  | 'NOTIFY' // an alert not yet posted to Slack
  | 'REVOKE_RETRY' // a revoke that failed and will be tried again
  | 'RECONCILE' // a claim (REVOKING) whose owner may have died
  | 'EXCEPTION_EXPIRY' // a kept rule whose exception runs out
  | 'GRANT_EXPIRY'
  | 'GRANT_WARN'
  | 'RUN_POLL'
  | 'RUN_APPROVAL_EXPIRY';

export type ViolationStatus =
  | 'PENDING'
  | 'REVOKING'
  | 'REVOKE_RETRY'
  | 'REVOKED'
  | 'AUTO_REVOKED'
  | 'GONE'
  | 'RESOLVED'
  | 'KEPT'
  | 'FAILED'
  | 'DRY_RUN';

/** Statuses a violation never leaves. */
export const FINAL_VIOLATION_STATUSES: readonly ViolationStatus[] = [
  'REVOKED',
  'AUTO_REVOKED',
  'GONE',
  'RESOLVED',
  'KEPT',
  'FAILED',
  'DRY_RUN',
];

/** Any stored item has these keys; `version` goes up by one on every transition. */
export interface StoredItem {
  pk: string;
  sk: string;
  type: string;
  status: string;
  version: number;
  dueKind?: DueKind;
  dueAt?: string;
}

/** One CloudTrail event that produced violations, and its Slack message. */
export interface AlertItem extends StoredItem {
  type: 'alert';
  /** STORING until every violation is written; then UNNOTIFIED → POSTING (claimed) → POSTED. */
  status: 'STORING' | 'UNNOTIFIED' | 'POSTING' | 'POSTED';
  alertId: string;
  eventId: string;
  eventName: string;
  eventTime: string;
  region: string;
  account: string;
  groupId: string;
  groupName: string | null;
  actor: Actor;
  violationIds: string[];
  notifyAttempts: number;
  notifyError?: string;
  /**
   * Set when a post failed in a way Slack may still have carried out (a timeout, a 5xx, a poster that
   * died): before posting again sg-warden looks for the message in the channel, so it is never posted twice.
   */
  postUncertainSince?: string;
  /** Failed message updates in a row; while set the alert is due (NOTIFY) to bring its message up to date. */
  refreshAttempts?: number;
  channel?: string;
  ts?: string;
  createdAt: string;
  /** Set when this alert re-opens a kept rule whose exception expired. */
  reopenedFrom?: string;
}

/** One violating rule and the decision about it. */
export interface ViolationItem extends StoredItem {
  type: 'violation';
  status: ViolationStatus;
  violationId: string;
  alertId: string;
  eventId: string;
  region: string;
  account: string;
  groupId: string;
  groupName: string | null;
  rule: RuleFacts;
  severity: Severity;
  reasons: string[];
  action: Finding['action'];
  dryRun: boolean;
  actor: Actor;
  eventTime: string;
  createdAt: string;
  deadline: string | null;
  revokeAttempts: number;
  lastError?: string;
  /** The last failed revoke may have reached EC2 (a timeout, a 5xx): a rule found gone later was removed by it. */
  revokeMayHaveApplied?: boolean;
  decidedBy?: string;
  decidedByName?: string;
  decidedAt?: string;
  justification?: string;
  keptUntil?: string | null;
  /** Who asked for the revoke in flight (REVOKING / REVOKE_RETRY): a retry or reconcile acts for them. */
  revokeBy?: AuditActor;
  channel?: string;
  ts?: string;
}

/** A kept rule: later events about the same rule raise nothing until it expires. */
export interface ExceptionItem extends StoredItem {
  type: 'exception';
  status: 'ACTIVE' | 'EXPIRED';
  fingerprint: string;
  violationId: string;
  rule: RuleFacts;
  region: string;
  account: string;
  severity: Severity;
  justification: string;
  approvedBy: string;
  approvedByName: string;
  createdAt: string;
  /** ISO time, or null for permanent. */
  expiresAt: string | null;
}

/**
 * A temporary allow-list entry (`/sg-whitelist`). PENDING while the rule is being added; ACTIVE with
 * its rule ID; REVOKING while its rule is being removed (claimed); REVOKE_FAILED until a retry removes
 * it; EXPIRED (by the clock) or REVOKED (early, by a person) once the rule is gone; FAILED when EC2
 * refused to add it.
 */
export type GrantStatus =
  | 'PENDING'
  | 'ACTIVE'
  | 'REVOKING'
  | 'REVOKE_FAILED'
  | 'EXPIRED'
  | 'REVOKED'
  | 'FAILED';

export interface GrantItem extends StoredItem {
  type: 'grant';
  status: GrantStatus;
  grantId: string;
  /** The whitelist target's alias (config `whitelist.targets`). */
  alias: string;
  account: string;
  region: string;
  groupId: string;
  protocol: string;
  /** The port granted (tcp/udp), null for all ports or ICMP types. */
  port: number | null;
  /** A single host: x.x.x.x/32 or …/128. */
  cidr: string;
  userId: string;
  userName: string;
  /** How the address was given: typed, or captured by the one-time link (`me`). */
  via: 'address' | 'link';
  /** The channel the request came from, to answer there. */
  channel?: string;
  createdAt: string;
  expiresAt: string;
  ruleId?: string;
  revokeAttempts: number;
  lastError?: string;
  /** What the grant becomes once its rule is removed. */
  endAs?: 'EXPIRED' | 'REVOKED';
  endedAt?: string;
  endedBy?: string;
  warnedAt?: string;
  /** Set on FAILED: EC2's code. */
  failureCode?: string;
}

/** A one-time `me` link: the token's SHA-256 is the key; the token itself is never stored. */
export interface IpLinkItem extends StoredItem {
  type: 'iplink';
  status: 'OPEN' | 'USED';
  /** The grant the link will create (its ID is chosen when the link is issued). */
  grantId: string;
  userId: string;
  userName: string;
  alias: string;
  port: number | null;
  durationSeconds: number;
  channel?: string;
  createdAt: string;
  expiresAt: string;
  /** DynamoDB TTL attribute (epoch seconds): the table forgets the link a day after it expires. */
  expiresAtEpoch: number;
  usedAt?: string;
  sourceIp?: string;
}

/** Where an SSM run is (see services/runs.ts for the transitions). */
export type RunStatus =
  | 'AWAITING_APPROVAL' // waiting for a second person; due RUN_APPROVAL_EXPIRY
  | 'SENDING' // being sent to SSM (a lease: due RUN_POLL)
  | 'RUNNING' // SSM has it; due RUN_POLL
  | 'POLLING' // a sweep is reading results (a lease: due RUN_POLL)
  | 'SUCCEEDED' // every instance reported Success
  | 'FAILED' // at least one instance did not succeed (Failed, TimedOut, Cancelled, …)
  | 'REJECTED'
  | 'EXPIRED' // nobody approved in time
  | 'CANCELLED' // withdrawn, or its message could not be posted
  | 'SEND_FAILED' // SSM refused the command, or a target was no longer online
  | 'SEND_UNKNOWN'; // sg-warden stopped while sending: whether SSM has it is unknown

export const FINAL_RUN_STATUSES: readonly RunStatus[] = [
  'SUCCEEDED',
  'FAILED',
  'REJECTED',
  'EXPIRED',
  'CANCELLED',
  'SEND_FAILED',
  'SEND_UNKNOWN',
];

/** One instance's part of a run, as SSM reported it. */
export interface RunInvocation {
  /** SSM's invocation status: Pending, InProgress, Delayed, Success, Failed, TimedOut, Cancelled, … */
  status: string;
  statusDetails?: string;
  final: boolean;
  exitCode?: number;
  stdoutChars?: number;
  stderrChars?: number;
  /** SHA-256 (hex) of the output SSM returned (stdout, then stderr). */
  stdoutSha256?: string;
  stderrSha256?: string;
  stdoutUrl?: string;
  stderrUrl?: string;
  finishedAt?: string;
  /** The result message was posted in the run's thread. */
  posted?: boolean;
  postAttempts?: number;
}

/** One `/sg-run` request: what was asked, who approved, what was sent, and each instance's result. */
export interface RunItem extends StoredItem {
  type: 'run';
  status: RunStatus;
  runId: string;
  /** The runbook alias, or "adhoc". */
  runbook: string;
  adHoc: boolean;
  document: string;
  region: string;
  /** The target as asked (an alias or an instance ID) and the instances it resolved to. */
  target: string;
  instanceIds: string[];
  instanceNames: Record<string, string>;
  /** The checked values (runbook parameters), or the ad-hoc command line. */
  values: Record<string, string>;
  /** The exact document parameters sent (or to be sent on approval). */
  documentParameters: Record<string, string[]>;
  comment: string;
  timeoutSeconds: number;
  maxOutputChars: number;
  outputS3Bucket?: string;
  outputS3KeyPrefix?: string;
  outputLogGroup?: string;
  requestedBy: string;
  requestedByName: string;
  createdAt: string;
  approvalRequired: boolean;
  approvalExpiresAt?: string;
  decidedBy?: string;
  decidedByName?: string;
  decidedAt?: string;
  /** The announcement message; results go in its thread. */
  channel?: string;
  ts?: string;
  commandId?: string;
  sentAt?: string;
  invocations: Record<string, RunInvocation>;
  lastError?: string;
  finishedAt?: string;
}

export type ActorType = 'slack-user' | 'aws-principal' | 'timeout' | 'system';

/** Who did something, as the audit trail records it. */
export interface AuditActor {
  type: ActorType;
  id: string;
  name: string;
}

/** One append-only audit entry. */
export interface AuditEntry {
  subjectId: string;
  /** `request`: a Slack request refused before any feature saw it (e.g. from another workspace); subjectId is the user. */
  subjectType: 'violation' | 'alert' | 'exception' | 'grant' | 'run' | 'request';
  action: string;
  fromState: string | null;
  toState: string | null;
  actorType: ActorType;
  actorId: string;
  actorName?: string;
  justification?: string;
  awsRequestId?: string;
  result: 'ok' | 'refused' | 'error';
  error?: string;
  details?: Record<string, unknown>;
  at: string;
}

/** A stored audit entry with its position. */
export interface StoredAuditEntry extends AuditEntry {
  entryId: string;
}

/** Key helpers: one place that knows how items are addressed. */
export const keys = {
  alert: (alertId: string) => ({ pk: `ALERT#${alertId}`, sk: 'ALERT' }),
  violation: (violationId: string) => ({ pk: `VIOLATION#${violationId}`, sk: 'VIOLATION' }),
  exception: (fingerprint: string) => ({ pk: `EXCEPTION#${fingerprint}`, sk: 'EXCEPTION' }),
  ownRule: (region: string, ruleId: string) => ({ pk: `OWNRULE#${region}#${ruleId}`, sk: 'OWNRULE' }),
  grant: (grantId: string) => ({ pk: `GRANT#${grantId}`, sk: 'GRANT' }),
  ipLink: (tokenHash: string) => ({ pk: `IPLINK#${tokenHash}`, sk: 'IPLINK' }),
  run: (runId: string) => ({ pk: `RUN#${runId}`, sk: 'RUN' }),
  marker: (name: string) => ({ pk: `MARKER#${name}`, sk: 'MARKER' }),
};

export type ItemKey = { pk: string; sk: string };

/** A conditional state change plus its audit entry, applied atomically. */
export interface Transition {
  key: ItemKey;
  /** The change applies only while the item is in one of these states. */
  from: readonly string[];
  to: string;
  /** Also require `version` to equal this (optimistic locking), when given. */
  expectVersion?: number;
  /** Attributes to set (undefined values are skipped). */
  set?: Record<string, unknown>;
  /** Attributes to remove. */
  remove?: string[];
  /** Due work after the change: a kind and time, or null to leave the index. */
  due: { kind: DueKind; at: string } | null;
  /** The audit entry; null only for internal bookkeeping (e.g. claiming a notification to post). */
  audit: AuditEntry | null;
  /** Further puts in the same transaction (e.g. an exception record); each must not exist yet. */
  alsoPut?: Record<string, unknown>[];
  /**
   * Lets each `alsoPut` item replace an existing one that is no longer live: whose status is not
   * `unlessStatus`, or whose `expiresAt` is at or before `expiredBy` (e.g. a rule kept again after its
   * earlier exception expired). A live item still makes the transition fail with StateConflictError.
   */
  alsoPutReplaces?: { unlessStatus: string; expiredBy?: string };
}

/** The state store: the one place sg-warden's state lives (DynamoDB in production). */
export interface StateStore {
  get<T extends StoredItem>(key: ItemKey): Promise<T | null>;
  /** Puts items that must not exist yet, each with its audit entry, atomically. False when any existed. */
  createAll(items: Record<string, unknown>[], audits: AuditEntry[]): Promise<boolean>;
  /** Applies a transition; throws StateConflictError when the item is no longer in a `from` state. */
  transition<T extends StoredItem>(t: Transition): Promise<T>;
  /** Sets attributes without a state change (no audit), only if the item exists. */
  patch(
    key: ItemKey,
    set: Record<string, unknown>,
    due?: { kind: DueKind; at: string } | null,
  ): Promise<void>;
  /** Items of a due kind with dueAt at or before `until`, oldest first. */
  queryDue<T extends StoredItem>(kind: DueKind, until: string, limit: number): Promise<T[]>;
  /** Items of a type in a status (status index; no scan). */
  queryByStatus<T extends StoredItem>(type: string, status: string, limit: number): Promise<T[]>;
  appendAudit(entry: AuditEntry): Promise<void>;
  auditFor(subjectId: string): Promise<StoredAuditEntry[]>;
  auditSince(since: string, until?: string): AsyncIterable<StoredAuditEntry>;
}

/**
 * Applies a transition, or returns null when it lost the race: the item was no longer in a `from` state
 * (or at `expectVersion`) because someone else moved it first. Any other failure is thrown.
 */
export async function tryTransition<T extends StoredItem>(
  store: StateStore,
  t: Transition,
): Promise<T | null> {
  try {
    return await store.transition<T>(t);
  } catch (error) {
    if (error instanceof StateConflictError) return null;
    throw error;
  }
}
