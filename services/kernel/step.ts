import { type AuditActor, type AuditEntry, type AuditSubject, auditEntry } from './audit';
import type { DueKind, StoredItem, Transition } from './state';

/** Stored items whose audit subject can be derived from the item itself. */
type SubjectItem = StoredItem &
  (
    | { type: 'violation'; violationId: string }
    | { type: 'alert'; alertId: string }
    | { type: 'digest'; digestId: string }
    | { type: 'grant'; grantId: string }
    | { type: 'run'; runId: string }
    | { type: 'exception'; violationId: string }
    /** Work done for another item (e.g. ending a grant's sessions): audited on that item. */
    | { type: 'sessions'; subject: AuditSubject }
    | { type: 'ask'; alertId: string }
  );

/** What the audit trail calls an item: its type and its own ID. */
export function subjectOf(item: SubjectItem): AuditSubject {
  switch (item.type) {
    case 'violation':
      return { id: item.violationId, type: 'violation' };
    case 'alert':
      return { id: item.alertId, type: 'alert' };
    case 'digest':
      return { id: item.digestId, type: 'digest' };
    case 'grant':
      return { id: item.grantId, type: 'grant' };
    case 'run':
      return { id: item.runId, type: 'run' };
    case 'exception':
      return { id: item.violationId, type: 'exception' };
    case 'sessions':
      return item.subject;
    // Asking a change's author is part of its alert's story: on the alert's trail.
    case 'ask':
      return { id: item.alertId, type: 'alert' };
  }
}

/** One move of an item: where it goes, what changes, who moved it and what the audit trail says. */
export interface StepSpec {
  to: string;
  /** The audit entry's action (e.g. `revoke`, `keep`, `expire`). */
  action: string;
  by: AuditActor;
  /** When it happens (ISO). */
  at: string;
  /** Due work after the move, or null to leave the due index. */
  due: { kind: DueKind; at: string } | null;
  set?: Record<string, unknown>;
  remove?: string[];
  result?: AuditEntry['result'];
  error?: string;
  justification?: string;
  awsRequestId?: string;
  details?: Record<string, unknown>;
  /** States the move starts from; default: the item's current state, at its current version. */
  from?: readonly string[];
  /** Skip the version check (only with `from`: a move that is right from any of those states). */
  anyVersion?: boolean;
  /** No audit entry: internal bookkeeping only (e.g. claiming a message to post). */
  unaudited?: boolean;
  alsoPut?: Transition['alsoPut'];
  alsoPutReplaces?: Transition['alsoPutReplaces'];
  /** The audit subject, when it is not the item itself. */
  subject?: AuditSubject;
}

/**
 * The conditional write that moves `item` as `spec` says: key, from-state and version come from the
 * item as it was read, so a move made on a stale read loses the race instead of overwriting it.
 */
export function step(item: SubjectItem, spec: StepSpec): Transition {
  const from = spec.from ?? [item.status];
  const fromState = from.length === 1 ? (from[0] ?? null) : item.status;
  return {
    key: { pk: item.pk, sk: item.sk },
    from,
    to: spec.to,
    ...(spec.anyVersion ? {} : { expectVersion: item.version, basis: item }),
    ...(spec.set ? { set: spec.set } : {}),
    ...(spec.remove ? { remove: spec.remove } : {}),
    due: spec.due,
    audit: spec.unaudited
      ? null
      : auditEntry(spec.subject ?? subjectOf(item), spec.by, {
          action: spec.action,
          fromState,
          toState: spec.to,
          result: spec.result ?? 'ok',
          at: spec.at,
          ...(spec.error !== undefined ? { error: spec.error } : {}),
          ...(spec.justification !== undefined ? { justification: spec.justification } : {}),
          ...(spec.awsRequestId !== undefined ? { awsRequestId: spec.awsRequestId } : {}),
          ...(spec.details !== undefined ? { details: spec.details } : {}),
        }),
    ...(spec.alsoPut ? { alsoPut: spec.alsoPut } : {}),
    ...(spec.alsoPutReplaces ? { alsoPutReplaces: spec.alsoPutReplaces } : {}),
  };
}
