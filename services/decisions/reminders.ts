import type { People } from '../config/config';
import { type AuditEntry, auditEntry, SYSTEM_ACTOR } from '../kernel/audit';
import { keys, type StoredItem, type Transition, tryTransition } from '../kernel/state';
import type { DueHandler } from '../kernel/sweep';
import { backoffSeconds, plusSeconds } from '../kernel/time';
import { describeError, RateLimitedError } from '../shared/errors';
import type { MessageRef } from '../shared/ports';
import type { ViolationItem } from '../violations/items';
import {
  type EscalationItem,
  type ReminderItem,
  UNDECIDED_EVERY_SECONDS,
  type UndecidedItem,
} from '../violations/reminders';
import { approverGroupsFor } from './deciders';
import { currentViolation, type DecisionDeps } from './deps';

/**
 * Reminders, escalation and the weekly undecided line: due work of the sweeper (REMIND, ESCALATE,
 * UNDECIDED). Each item is claimed by a conditional write before anything is posted, so sweeps that
 * overlap post it once; a claim holds a lease, so a sweep that dies while posting is followed by another.
 */

/** Tells people in Slack (slack/reminders/notifier.ts). */
export interface ReminderNotifier {
  /** A reply in the alert's thread that mentions the violation's approvers. */
  remind(notice: ReminderNotice): Promise<MessageRef>;
  /** A message to the escalation channel (or the alert's, mentioning on call) with a link to the alert. */
  escalate(notice: EscalationNotice): Promise<{ ref: MessageRef; link: string }>;
  /** One line in a channel counting what is still undecided there, oldest first. */
  undecided(line: UndecidedLine): Promise<MessageRef>;
}

export interface ReminderNotice {
  violation: ViolationItem;
  /** The alert's message: the reminder replies in its thread. */
  thread: MessageRef;
  approvers: People;
  /** Seconds until the auto-revoke, or null (notify only). */
  secondsLeft: number | null;
  /** Seconds since the violation was raised. */
  waitingSeconds: number;
  /** 1 for the first reminder. */
  round: number;
}

export interface EscalationNotice {
  violation: ViolationItem;
  /** The alert's message (linked to). */
  alert: MessageRef;
  /** Where the escalation is posted. */
  channel: string;
  /** The on-call user group mentioned, if any. */
  userGroup: string | null;
  secondsLeft: number | null;
}

export interface UndecidedLine {
  channel: string;
  /** The oldest undecided violations (at most UNDECIDED_LISTED), oldest first. */
  oldest: ViolationItem[];
  total: number;
  now: Date;
}

export interface ReminderDeps extends DecisionDeps {
  reminderNotifier: ReminderNotifier;
}

/** How long a claim to post lasts before another sweep may take it over. */
export const REMINDER_LEASE_SECONDS = 120;
/** Failed posts before a reminder or an escalation is given up (audited as an error: an alarm fires). */
export const MAX_REMINDER_ATTEMPTS = 6;
/** A deadline closer than this gets no reminder: the revoke is about to happen. */
const TOO_LATE_SECONDS = 30;
/** Violations an undecided line names; it counts them all. */
export const UNDECIDED_LISTED = 10;
/** Pending violations read for the undecided line (the status index, newest first). */
const UNDECIDED_READ_LIMIT = 2000;

function secondsUntil(iso: string | null, now: Date): number | null {
  return iso === null ? null : Math.round((Date.parse(iso) - now.getTime()) / 1000);
}

/** Claims an item due now for posting (its state and version as the sweep saw them). */
function claim<T extends StoredItem>(item: T, kind: 'REMIND' | 'ESCALATE' | 'UNDECIDED', now: Date) {
  return {
    key: { pk: item.pk, sk: item.sk },
    from: [item.status],
    expectVersion: item.version,
    to: 'SENDING',
    due: { kind, at: plusSeconds(now, REMINDER_LEASE_SECONDS) },
    audit: null,
  } satisfies Transition;
}

function violationAudit(
  v: Pick<ViolationItem, 'violationId' | 'status'>,
  action: 'remind' | 'escalate',
  now: Date,
  result: AuditEntry['result'],
  details: Record<string, unknown>,
  error?: string,
): AuditEntry {
  return auditEntry({ id: v.violationId, type: 'violation' }, SYSTEM_ACTOR, {
    action,
    fromState: v.status,
    toState: v.status,
    result,
    at: now.toISOString(),
    details,
    ...(error !== undefined ? { error } : {}),
  });
}

/**
 * A post that failed: back to WAITING after a backoff (Slack's own wait when it rate-limited), or —
 * after MAX_REMINDER_ATTEMPTS, or when waiting is pointless — FAILED, audited as an error on the violation.
 */
function failedPost(
  item: ReminderItem | EscalationItem,
  kind: 'REMIND' | 'ESCALATE',
  v: ViolationItem,
  error: unknown,
  now: Date,
  giveUp: boolean,
): Transition {
  const rateLimited = error instanceof RateLimitedError;
  const attempts = rateLimited ? item.attempts : item.attempts + 1;
  const message = describeError(error);
  if (giveUp || attempts >= MAX_REMINDER_ATTEMPTS)
    return {
      key: { pk: item.pk, sk: item.sk },
      from: ['SENDING'],
      to: 'FAILED',
      set: { attempts, lastError: message },
      due: null,
      audit: violationAudit(
        v,
        kind === 'REMIND' ? 'remind' : 'escalate',
        now,
        'error',
        { attempts, channel: item.channel, threadTs: item.ts },
        message,
      ),
    };
  const wait = rateLimited ? error.retryAfterSeconds + 1 : backoffSeconds(attempts, 30, 900);
  return {
    key: { pk: item.pk, sk: item.sk },
    from: ['SENDING'],
    to: 'WAITING',
    set: { attempts, lastError: message },
    due: { kind, at: plusSeconds(now, wait) },
    audit: null,
  };
}

/** Ends an item without posting (its violation was decided, or its deadline is here): unaudited bookkeeping. */
function settle(item: StoredItem, to: string): Transition {
  return { key: { pk: item.pk, sk: item.sk }, from: ['SENDING'], to, due: null, audit: null };
}

/**
 * REMIND: the reminder of a pending violation, in its alert's thread, mentioning its approvers; a critical
 * one is escalated too (once). Notify-only violations are reminded again after a doubling wait until
 * decided. A violation no longer pending, or a deadline about to pass, ends the reminders silently.
 */
export async function sendReminder(
  deps: ReminderDeps,
  seen: ReminderItem,
  now: Date,
): Promise<'sent' | 'ended' | 'lost' | 'failed'> {
  const claimed = await tryTransition<ReminderItem>(deps.store, claim(seen, 'REMIND', now));
  if (!claimed) return 'lost';
  const v = await currentViolation(deps, claimed.violationId);
  const secondsLeft = secondsUntil(v?.deadline ?? null, now);
  if (v?.status !== 'PENDING' || (secondsLeft !== null && secondsLeft < TOO_LATE_SECONDS)) {
    await tryTransition(deps.store, settle(claimed, 'DONE'));
    return 'ended';
  }
  await openEscalation(deps, v, claimed, now);
  const approvers = approverGroupsFor(v, deps.config);
  const thread = { channel: claimed.channel, ts: claimed.ts };
  const round = claimed.round + 1;
  let posted: MessageRef;
  try {
    posted = await deps.reminderNotifier.remind({
      violation: v,
      thread,
      approvers,
      secondsLeft,
      waitingSeconds: Math.max(0, Math.round((now.getTime() - Date.parse(v.createdAt)) / 1000)),
      round,
    });
  } catch (error) {
    deps.logger.warn({ violationId: v.violationId, err: describeError(error) }, 'reminder not posted');
    await tryTransition(deps.store, failedPost(claimed, 'REMIND', v, error, now, false));
    await escalateNow(deps, v.violationId, now);
    return 'failed';
  }
  const undecided = deps.config.decisions.remindUndecided;
  // Notify only: again after twice the last wait (1 day, then 2, 4, …) until someone decides.
  const next = v.deadline === null && undecided !== null ? plusSeconds(now, undecided * 2 ** round) : null;
  await tryTransition(deps.store, {
    key: { pk: claimed.pk, sk: claimed.sk },
    from: ['SENDING'],
    to: next ? 'WAITING' : 'DONE',
    set: { round, attempts: 0 },
    remove: ['lastError'],
    due: next ? { kind: 'REMIND', at: next } : null,
    audit: violationAudit(v, 'remind', now, 'ok', {
      channel: thread.channel,
      threadTs: thread.ts,
      ts: posted.ts,
      round,
      mentioned: { users: approvers.users, userGroups: approvers.userGroups },
      ...(secondsLeft !== null ? { secondsLeft } : {}),
      ...(next ? { nextReminder: next } : {}),
    }),
  });
  await escalateNow(deps, v.violationId, now);
  return 'sent';
}

/** Whether a violation is escalated when its reminder fires: critical, with an escalation configured. */
export function isEscalated(deps: Pick<DecisionDeps, 'config'>, v: Pick<ViolationItem, 'severity'>): boolean {
  const { channel, userGroup } = deps.config.decisions.escalation;
  return v.severity === 'critical' && Boolean(channel || userGroup);
}

/** Makes the escalation of a critical violation, once: its key cannot be written twice. */
async function openEscalation(deps: ReminderDeps, v: ViolationItem, reminder: ReminderItem, now: Date) {
  if (!isEscalated(deps, v)) return;
  const item: EscalationItem = {
    ...keys.escalation(v.violationId),
    type: 'escalation',
    status: 'WAITING',
    version: 1,
    violationId: v.violationId,
    alertId: v.alertId,
    channel: reminder.channel,
    ts: reminder.ts,
    createdAt: now.toISOString(),
    attempts: 0,
    dueKind: 'ESCALATE',
    dueAt: now.toISOString(),
  };
  await deps.store.createAll([item as unknown as Record<string, unknown>], []);
}

/** Posts a just-made escalation at once (the sweeper's ESCALATE picks it up if this fails). */
async function escalateNow(deps: ReminderDeps, violationId: string, now: Date): Promise<void> {
  const item = await deps.store.get<EscalationItem>(keys.escalation(violationId));
  if (item?.status !== 'WAITING' || item.attempts > 0) return;
  await sendEscalation(deps, item, now).catch((error) =>
    deps.logger.warn({ violationId, err: describeError(error) }, 'escalation left for the sweeper'),
  );
}

/**
 * ESCALATE: a critical violation still pending when its reminder fired, told to the escalation channel
 * (or, with only an on-call group, in the alert's channel mentioning it), with a link to the alert: once,
 * audited on the violation. Decided meanwhile: nothing is posted.
 */
export async function sendEscalation(
  deps: ReminderDeps,
  seen: EscalationItem,
  now: Date,
): Promise<'sent' | 'ended' | 'lost' | 'failed'> {
  const claimed = await tryTransition<EscalationItem>(deps.store, claim(seen, 'ESCALATE', now));
  if (!claimed) return 'lost';
  const v = await currentViolation(deps, claimed.violationId);
  if (v?.status !== 'PENDING') {
    await tryTransition(deps.store, settle(claimed, 'ENDED'));
    return 'ended';
  }
  const { channel, userGroup } = deps.config.decisions.escalation;
  const alert = { channel: claimed.channel, ts: claimed.ts };
  const to = channel ?? alert.channel;
  const secondsLeft = secondsUntil(v.deadline, now);
  try {
    const { ref, link } = await deps.reminderNotifier.escalate({
      violation: v,
      alert,
      channel: to,
      userGroup: userGroup ?? null,
      secondsLeft,
    });
    await tryTransition(deps.store, {
      key: { pk: claimed.pk, sk: claimed.sk },
      from: ['SENDING'],
      to: 'SENT',
      set: { attempts: 0 },
      remove: ['lastError'],
      due: null,
      audit: violationAudit(v, 'escalate', now, 'ok', {
        channel: ref.channel,
        ts: ref.ts,
        alertChannel: alert.channel,
        alertTs: alert.ts,
        link,
        ...(userGroup ? { userGroup } : {}),
        ...(secondsLeft !== null ? { secondsLeft } : {}),
      }),
    });
    return 'sent';
  } catch (error) {
    deps.logger.warn({ violationId: v.violationId, err: describeError(error) }, 'escalation not posted');
    await tryTransition(deps.store, failedPost(claimed, 'ESCALATE', v, error, now, false));
    return 'failed';
  }
}

/**
 * UNDECIDED: once a week, one line in a channel counting its violations still waiting for a decision,
 * oldest first (nothing when there are none); then due again a week later.
 */
export async function postUndecidedLine(
  deps: ReminderDeps,
  seen: UndecidedItem,
  now: Date,
): Promise<'sent' | 'nothing' | 'lost' | 'failed'> {
  const claimed = await tryTransition<UndecidedItem>(deps.store, claim(seen, 'UNDECIDED', now));
  if (!claimed) return 'lost';
  const again = (set: Record<string, unknown>, at: string): Transition => ({
    key: { pk: claimed.pk, sk: claimed.sk },
    from: ['SENDING'],
    to: 'WAITING',
    set,
    due: { kind: 'UNDECIDED', at },
    audit: null,
  });
  try {
    const pending = (
      await deps.store.queryByStatus<ViolationItem>('violation', 'PENDING', UNDECIDED_READ_LIMIT)
    )
      .filter((v) => v.channel === claimed.channel)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    if (pending.length > 0)
      await deps.reminderNotifier.undecided({
        channel: claimed.channel,
        oldest: pending.slice(0, UNDECIDED_LISTED),
        total: pending.length,
        now,
      });
    await tryTransition(
      deps.store,
      again({ lastPostedAt: now.toISOString() }, plusSeconds(now, UNDECIDED_EVERY_SECONDS)),
    );
    return pending.length > 0 ? 'sent' : 'nothing';
  } catch (error) {
    deps.logger.warn({ channel: claimed.channel, err: describeError(error) }, 'undecided line not posted');
    await tryTransition(deps.store, again({}, plusSeconds(now, 3600)));
    return 'failed';
  }
}

/** The sweeper's reminder work: REMIND, ESCALATE and UNDECIDED, on the sweep's clock. */
export function reminderDueHandlers(
  deps: ReminderDeps,
): Record<'REMIND' | 'ESCALATE' | 'UNDECIDED', DueHandler> {
  const at = (now: Date): ReminderDeps => ({ ...deps, clock: () => now });
  return {
    REMIND: async (item, now) => {
      await sendReminder(at(now), item as ReminderItem, now);
    },
    ESCALATE: async (item, now) => {
      await sendEscalation(at(now), item as EscalationItem, now);
    },
    UNDECIDED: async (item, now) => {
      await postUndecidedLine(at(now), item as UndecidedItem, now);
    },
  };
}
