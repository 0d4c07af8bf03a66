import { StateConflictError } from '../shared/errors';
import type { AuditEntry, StoredAuditEntry } from './audit';

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
  | 'RUN_APPROVAL_EXPIRY'
  | 'SESSIONS_POLL' // an end-sessions command in flight (services/sessions/)
  | 'REMIND' // a reminder to the approvers of a pending violation, in the alert's thread
  | 'ESCALATE' // a critical violation still pending at its reminder, told to the escalation channel / on call
  | 'UNDECIDED' // a channel's weekly line counting what is still undecided
  | 'HOME'; // a person's Home tab to build again (one of their items changed)

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

/** Key helpers: one place that knows how items are addressed. */
export const keys = {
  alert: (alertId: string) => ({ pk: `ALERT#${alertId}`, sk: 'ALERT' }),
  violation: (violationId: string) => ({ pk: `VIOLATION#${violationId}`, sk: 'VIOLATION' }),
  exception: (fingerprint: string) => ({ pk: `EXCEPTION#${fingerprint}`, sk: 'EXCEPTION' }),
  ownRule: (region: string, ruleId: string) => ({ pk: `OWNRULE#${region}#${ruleId}`, sk: 'OWNRULE' }),
  grant: (grantId: string) => ({ pk: `GRANT#${grantId}`, sk: 'GRANT' }),
  ipLink: (tokenHash: string) => ({ pk: `IPLINK#${tokenHash}`, sk: 'IPLINK' }),
  run: (runId: string) => ({ pk: `RUN#${runId}`, sk: 'RUN' }),
  sessions: (sessionsId: string) => ({ pk: `SESSIONS#${sessionsId}`, sk: 'SESSIONS' }),
  marker: (name: string) => ({ pk: `MARKER#${name}`, sk: 'MARKER' }),
  /** A digest: one Slack message carrying the alerts of a burst (services/violations/digests.ts). */
  digest: (digestId: string) => ({ pk: `DIGEST#${digestId}`, sk: 'DIGEST' }),
  /** The lease of whoever posts a burst to one channel (services/violations/channel-poster.ts). */
  poster: (channel: string) => ({ pk: `POSTER#${channel}`, sk: 'POSTER' }),
  /** Who last set one tag of one security group (services/detection/tags.ts). */
  tagSetter: (account: string, region: string, groupId: string, tagKey: string) => ({
    pk: `TAGSET#${account}#${region}#${groupId}#${tagKey}`,
    sk: 'TAGSET',
  }),
  /** Asking the author of an alert's change by direct message (services/actors). */
  ask: (alertId: string) => ({ pk: `ASK#${alertId}`, sk: 'ASK' }),
  /** Which violation holds one rule (its fingerprint): one open violation per rule, however it was found. */
  ruleClaim: (fingerprint: string) => ({ pk: `RULECLAIM#${fingerprint}`, sk: 'RULECLAIM' }),
  /** The scan's cursor: where a scan that ran out of time stopped. */
  scanCursor: () => ({ pk: 'SCAN#cursor', sk: 'SCAN' }),
  reminder: (violationId: string) => ({ pk: `REMINDER#${violationId}`, sk: 'REMINDER' }),
  escalation: (violationId: string) => ({ pk: `ESCALATION#${violationId}`, sk: 'ESCALATION' }),
  undecided: (channel: string) => ({ pk: `UNDECIDED#${channel}`, sk: 'UNDECIDED' }),
  home: (userId: string) => ({ pk: `HOME#${userId}`, sk: 'HOME' }),
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
  /**
   * The item as read at `expectVersion` (kernel/step.ts sets it): the store answers the item after the
   * transition from it and the change, instead of reading it back. Attributes a patch (which keeps the
   * version) set since that read are not in the answer; the table has them.
   */
  basis?: StoredItem;
  /** Attributes set on other existing items in the same transaction (no state change, no audit of their own). */
  alsoPatch?: { key: ItemKey; set: Record<string, unknown> }[];
}

/** The state store: the one place sg-warden's state lives (DynamoDB in production). */
export interface StateStore {
  get<T extends StoredItem>(key: ItemKey): Promise<T | null>;
  /**
   * Several items in one read (consistent, as `get`), answered by key (`keyId`); a key with no item is
   * absent from the map.
   */
  getMany<T extends StoredItem>(keys: readonly ItemKey[]): Promise<Map<string, T>>;
  /** Puts items that must not exist yet, each with its audit entry, atomically. False when any existed. */
  createAll(items: Record<string, unknown>[], audits: AuditEntry[]): Promise<boolean>;
  /** Applies a transition; throws StateConflictError when the item is no longer in a `from` state. */
  transition<T extends StoredItem>(t: Transition): Promise<T>;
  /** Like `transition` for a caller that does not need the item after it (no read back). */
  move(t: Transition): Promise<void>;
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

/** The most writes one transaction may carry (DynamoDB's TransactWriteItems limit). */
export const MAX_TRANSACTION_WRITES = 100;

/** How `getMany` answers a key: its partition and sort key. */
export function keyId(key: ItemKey): string {
  return `${key.pk}|${key.sk}`;
}

/** Like tryTransition for a caller that needs no item back: false when it lost the race. */
export async function tryMove(store: StateStore, t: Transition): Promise<boolean> {
  try {
    await store.move(t);
    return true;
  } catch (error) {
    if (error instanceof StateConflictError) return false;
    throw error;
  }
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
