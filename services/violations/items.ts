import type { ExposureClass } from '../exposure/classify';
import type { ExposureChange, ViolationExposure } from '../exposure/grade';
import type { AuditActor } from '../kernel/audit';
import type { StoredItem } from '../kernel/state';
import type { Actor, Finding, RuleFacts, Severity } from '../shared/model';
import type { MessageRef } from '../shared/ports';

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
  /** Posted as a reply in this message's thread (a kept rule asked again where it was kept). */
  thread?: MessageRef;
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
  /**
   * Asked again because a Keep ran out: who kept it, until when (shown as a date in the reader's time);
   * `endedBy` when it ended early because its group's exposure rose above what it was granted at.
   */
  previousKeep?: {
    byName: string;
    until: string | null;
    grantedAt?: ExposureClass | null;
    endedBy?: ExposureChange;
  };
  /** The group's exposure changed while this was pending (raised, or only noted when it fell). */
  exposureChange?: ExposureChange;
  /** The group's exposure when the violation was raised (class, first attachments, the severity step). */
  exposure?: ViolationExposure;
  /** The group's exposure as the clock found it just before its auto-revoke. */
  exposureAtRevoke?: ViolationExposure;
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
  /**
   * The group's exposure the Keep was given at (what its alert showed); absent on exceptions from before it
   * was recorded. One granted below `internet` ends when the group becomes reachable from the internet.
   */
  grantedAt?: { exposure: ExposureClass; reason: string } | null;
}
