import type { ExposureClass } from '../exposure/classify';
import type { ExposureChange, ViolationExposure } from '../exposure/grade';
import type { AuditActor } from '../kernel/audit';
import type { StoredItem } from '../kernel/state';
import type { ConnectionTracking } from '../sessions/tracking';
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
  /** Set while an update of its message waits (due NOTIFY): the sweep updates it once, at Slack's pace. */
  updatePendingSince?: string;
  /**
   * The channel the alert is posted in: its route's (set when it is stored), or slack.alertChannel; an
   * alert stored before routes has none until posted, and goes to slack.alertChannel.
   */
  channel?: string;
  ts?: string;
  /** The route (slack.routes) that took the alert, or null for none (slack.alertChannel). */
  route?: string | null;
  /** A user group the message mentions (the route's, on a critical alert). */
  mention?: string | null;
  /** The person who made the change, asked by direct message: where that stands (shown on the alert). */
  actorAsk?: ActorAskSummary;
  createdAt: string;
  /** Set when this alert re-opens a kept rule whose exception expired. */
  reopenedFrom?: string;
  /**
   * The digest carrying this alert, when it was posted as part of a burst (then `channel` / `ts` are the
   * digest's message, so its buttons are bound to that message).
   */
  digestId?: string;
  /** When its message reached the channel (ISO). */
  postedAt?: string;
  /**
   * What the alert tells besides its violations (plain text; Slack escapes it): a watched change such as
   * an exemption tag or a prefix list gaining the internet (services/detection/raise.ts).
   */
  notices?: string[];
  /** `scan`: raised by the reconciliation scan (no CloudTrail event, so no principal); absent: an event. */
  foundBy?: 'scan';
  /** The group's tags when the alert was raised (the scan reads them with the group). */
  groupTags?: Record<string, string>;
  /** Posted as a reply in this message's thread (a kept rule asked again where it was kept). */
  thread?: MessageRef;
}

/**
 * One Slack message carrying the alerts of a burst from one principal in one region (many violations,
 * each on its own line with its own buttons). Only a way of showing them: every violation keeps its own
 * deadline, decision and audit trail. UNNOTIFIED → POSTING (claimed, with a lease) → POSTED, like an
 * alert; EMPTY when every alert it was meant to carry went elsewhere before it was posted.
 */
export interface DigestItem extends StoredItem {
  type: 'digest';
  status: 'UNNOTIFIED' | 'POSTING' | 'POSTED' | 'EMPTY';
  digestId: string;
  channel: string;
  /** The principal (ARN) and region every alert in it shares. */
  principal: string;
  region: string;
  /** The alerts it was planned with; those that claimed it (`digestId`) are the ones it shows. */
  alertIds: string[];
  /** Its lines in the order shown (worst severity first), fixed when posted so lines keep their place. */
  violationIds: string[];
  notifyAttempts: number;
  notifyError?: string;
  /** As on an alert: a post that may have reached Slack; look for the message before posting again. */
  postUncertainSince?: string;
  refreshAttempts?: number;
  /** Set while an update of its message waits (due NOTIFY): the sweep updates it once, at Slack's pace. */
  updatePendingSince?: string;
  ts?: string;
  postedAt?: string;
  createdAt: string;
}

/** What the alert shows of asking the change's author: asked, their answer, or that the DM failed. */
export interface ActorAskSummary {
  user: string;
  status: 'ASKED' | 'FAILED' | 'NEEDED' | 'REVOKED';
  at: string;
  /** Their "I need it" reason. */
  justification?: string;
}

/** Who holds the right to post a burst to one channel, until when (one poster per channel). */
export interface PosterLeaseItem extends StoredItem {
  type: 'poster';
  status: 'FREE' | 'HELD';
  channel: string;
  holder?: string;
  leaseUntil?: string;
  createdAt: string;
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
  /** When its alert (single or digest) was posted, if that moved the deadline (posting was late). */
  postedAt?: string;
  /** The group's exposure when the violation was raised (class, first attachments, the severity step). */
  exposure?: ViolationExposure;
  /** The group's exposure as the clock found it just before its auto-revoke. */
  exposureAtRevoke?: ViolationExposure;
  /** The route that took its alert (null: none): who may decide it comes from here (services/routing). */
  route?: string | null;
  /** The Slack user who made the change, once known (the principal map or their e-mail): never its approver. */
  actorUser?: string;
  channel?: string;
  ts?: string;
  /** Set when sg-warden revoked the rule: whether AWS tracked its connections (so they may outlive it). */
  connections?: ConnectionTracking;
  /** `scan`: raised by the reconciliation scan; absent: an event (or a re-ask of a kept rule). */
  foundBy?: 'scan';
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
