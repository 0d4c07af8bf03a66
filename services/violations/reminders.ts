import type { Config } from '../config/config';
import { keys, MAX_TRANSACTION_WRITES, type StateStore, type StoredItem } from '../kernel/state';
import { plusSeconds } from '../kernel/time';
import { describeError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { Severity } from '../shared/model';
import type { MessageRef } from '../shared/ports';
import type { ViolationItem } from './items';

/**
 * A violation's reminders (REMINDER#<violationId>): WAITING until due (REMIND), SENDING while a sweep posts
 * (a lease: due again if the poster dies), then WAITING for the next (notify-only: a doubling wait) or DONE;
 * FAILED when Slack refused every try. Made when the alert is posted: the reminder answers in its thread.
 */
export interface ReminderItem extends StoredItem {
  type: 'reminder';
  status: 'WAITING' | 'SENDING' | 'DONE' | 'FAILED';
  violationId: string;
  alertId: string;
  /** The alert's message: the reminder is a reply in its thread. */
  channel: string;
  ts: string;
  severity: Severity;
  /** The auto-revoke deadline, or null (notify only: reminded until decided). */
  deadline: string | null;
  createdAt: string;
  /** Reminders posted so far. */
  round: number;
  /** Failed posts in a row. */
  attempts: number;
  lastError?: string;
}

/**
 * A critical violation's escalation (ESCALATION#<violationId>): made once, when its first reminder fires
 * while it is still pending (the key makes a second one impossible), then posted: WAITING → SENDING → SENT.
 */
export interface EscalationItem extends StoredItem {
  type: 'escalation';
  /** ENDED: decided before it was posted (nothing posted). */
  status: 'WAITING' | 'SENDING' | 'SENT' | 'ENDED' | 'FAILED';
  violationId: string;
  alertId: string;
  channel: string;
  ts: string;
  createdAt: string;
  attempts: number;
  lastError?: string;
}

/** A channel's weekly line of what is still undecided (UNDECIDED#<channel>), due every week (UNDECIDED). */
export interface UndecidedItem extends StoredItem {
  type: 'undecided';
  status: 'WAITING' | 'SENDING';
  channel: string;
  createdAt: string;
  lastPostedAt?: string;
}

/** How often a channel is told what is still undecided. */
export const UNDECIDED_EVERY_SECONDS = 7 * 86400;
/** The least lead time a reminder before a deadline has (half the timeout unless configured). */
export const MIN_REMIND_BEFORE_SECONDS = 60;

/**
 * When a violation is first reminded, or null for no reminder: `decisions.remindBefore` before its deadline
 * (default half the timeout, at least a minute) — none when that is not after `now` (the alert itself has
 * just said it) — or, notify-only, `decisions.remindUndecided` after it was raised.
 */
export function firstReminderAt(
  v: Pick<ViolationItem, 'deadline' | 'createdAt'>,
  config: Config,
  now: Date,
): string | null {
  const { remindBefore, remindUndecided } = config.decisions;
  if (v.deadline) {
    if (remindBefore === null) return null;
    const timeout = (Date.parse(v.deadline) - Date.parse(v.createdAt)) / 1000;
    const before = remindBefore ?? Math.max(MIN_REMIND_BEFORE_SECONDS, Math.floor(timeout / 2));
    const at = plusSeconds(v.deadline, -before);
    return at > now.toISOString() ? at : null;
  }
  if (remindUndecided === null) return null;
  // Strings compare as times (ISO); a reminder already owed is due at once.
  return [plusSeconds(v.createdAt, remindUndecided), now.toISOString()].sort().at(-1)!;
}

/** The reminder item of a violation just posted at `ref`, or null when it is not reminded. */
export function newReminder(
  v: ViolationItem,
  ref: MessageRef,
  config: Config,
  now: Date,
): ReminderItem | null {
  if (v.status !== 'PENDING') return null;
  const at = firstReminderAt(v, config, now);
  if (!at) return null;
  return {
    ...keys.reminder(v.violationId),
    type: 'reminder',
    status: 'WAITING',
    version: 1,
    violationId: v.violationId,
    alertId: v.alertId,
    channel: ref.channel,
    ts: ref.ts,
    severity: v.severity,
    deadline: v.deadline,
    createdAt: now.toISOString(),
    round: 0,
    attempts: 0,
    dueKind: 'REMIND',
    dueAt: at,
  };
}

/** The weekly undecided line of a channel, first due a week from `now`. */
export function newUndecidedLine(channel: string, now: Date): UndecidedItem {
  return {
    ...keys.undecided(channel),
    type: 'undecided',
    status: 'WAITING',
    version: 1,
    channel,
    createdAt: now.toISOString(),
    dueKind: 'UNDECIDED',
    dueAt: plusSeconds(now, UNDECIDED_EVERY_SECONDS),
  };
}

/** The reminders these violations get once their message is in the channel (`ref`). */
export function remindersFor(
  config: Config,
  violations: readonly ViolationItem[],
  ref: MessageRef,
  now: Date,
): ReminderItem[] {
  return violations.map((v) => newReminder(v, ref, config, now)).filter((r): r is ReminderItem => r !== null);
}

/**
 * Once an alert is in its channel: a reminder for each pending violation that gets one, and — when one of
 * them waits for a decision with no deadline — the channel's weekly undecided line (made once). Items
 * that exist already (an alert posted again, or adopted) are left as they are. Never fails the post:
 * a failure is logged and the alert stays posted.
 */
export async function scheduleReminders(
  deps: { store: StateStore; config: Config; clock: () => Date; logger: Logger },
  violations: ViolationItem[],
  ref: MessageRef,
  /** The reminders already written with the post (recordPosted): only the undecided line is left. */
  written?: ReminderItem[],
): Promise<void> {
  const now = deps.clock();
  try {
    const reminders = written ?? remindersFor(deps.config, violations, ref, now);
    const records = written ? [] : reminders.map((r) => r as unknown as Record<string, unknown>);
    // All in one write when none exists yet (a first post); else each on its own (one may exist already).
    if (
      records.length > 0 &&
      !(records.length <= MAX_TRANSACTION_WRITES && (await deps.store.createAll(records, [])))
    )
      for (const record of records) await deps.store.createAll([record], []);
    if (reminders.some((r) => r.deadline === null))
      await deps.store.createAll(
        [newUndecidedLine(ref.channel, now) as unknown as Record<string, unknown>],
        [],
      );
  } catch (error) {
    deps.logger.error(
      { channel: ref.channel, ts: ref.ts, err: describeError(error) },
      'reminders not scheduled',
    );
  }
}
