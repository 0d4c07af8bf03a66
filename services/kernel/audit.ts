export type ActorType = 'slack-user' | 'aws-principal' | 'timeout' | 'system' | 'backstop';

/** Who did something, as the audit trail records it. */
export interface AuditActor {
  type: ActorType;
  id: string;
  name: string;
}

/** One append-only audit entry. */
export interface AuditEntry {
  subjectId: string;
  /**
   * `request`: a Slack request refused before any feature saw it (e.g. from another workspace); subjectId is
   * the user. `scan`: one run of the reconciliation scan (its summary, a target it could not read); subjectId is the run.
   */
  subjectType: 'violation' | 'alert' | 'digest' | 'exception' | 'grant' | 'run' | 'request' | 'scan';
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

/** The subject of an audit entry: what the entry is about. */
export interface AuditSubject {
  id: string;
  type: AuditEntry['subjectType'];
}

/** sg-warden acting on its own (a sweep, a retry, bookkeeping). */
export const SYSTEM_ACTOR: AuditActor = { type: 'system', id: 'sg-warden', name: 'sg-warden' };
/** The clock: a deadline or an expiry that nobody answered. */
export const TIMEOUT_ACTOR: AuditActor = { type: 'timeout', id: 'timeout', name: 'timeout' };

/**
 * The backstop: an EventBridge Scheduler schedule revoked the rule through AWS alone, because the sweeper
 * had not acted by the due time plus the grace (README "How temporary is temporary").
 */
export const BACKSTOP_ACTOR: AuditActor = { type: 'backstop', id: 'backstop', name: 'backstop' };

/** What an audit entry says beyond its subject and actor. */
export type AuditFields = Omit<
  AuditEntry,
  'subjectId' | 'subjectType' | 'actorType' | 'actorId' | 'actorName'
>;

/** One audit entry about `subject` by `by`. */
export function auditEntry(subject: AuditSubject, by: AuditActor, fields: AuditFields): AuditEntry {
  return {
    ...fields,
    subjectId: subject.id,
    subjectType: subject.type,
    actorType: by.type,
    actorId: by.id,
    actorName: by.name,
  };
}
