import type { BackstopDeps } from '../backstop/ports';
import type { Config } from '../config/config';
import {
  keyId,
  keys,
  MAX_TRANSACTION_WRITES,
  type StateStore,
  type Transition,
  tryMove,
} from '../kernel/state';
import { backoffSeconds, plusSeconds } from '../kernel/time';
import { describeError, RateLimitedError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { MessageRef } from '../shared/ports';
import { withVisibleDeadlines } from './digest-plan';
import { refreshDigestMessageOutcome, type UpdateOutcome } from './digest-refresh';
import type { AlertItem, ViolationItem } from './items';
import type { AlertNotifier, AlertView } from './ports';
import { remindersFor, scheduleReminders } from './reminders';
import { restartLateDeadlines } from './visibility';

export interface AlertDeps extends BackstopDeps {
  store: StateStore;
  notifier: AlertNotifier;
  config: Config;
  clock: () => Date;
  logger: Logger;
}

/** How long a claim to post an alert lasts before the sweeper may try again. */
export const POST_LEASE_SECONDS = 120;
const MAX_BACKOFF_SECONDS = 900;
/** How far before a post of unknown outcome sg-warden looks for its message (clocks differ a little). */
const LOOKBACK_SECONDS = 60;
/** Violation states no move leaves (decisions/states.ts): the rule was removed, or no longer violates. */
const FINAL_STATUSES: readonly ViolationItem['status'][] = ['REVOKED', 'AUTO_REVOKED', 'GONE', 'RESOLVED'];
/** Failed message updates retried by sweeps before the message is left as it is (about a day). */
export const MAX_REFRESH_ATTEMPTS = 12;

/**
 * Loads an alert with its violations as they are now (all in one batch read). `known`: the alert as the
 * caller just wrote it (a transition answers the item), so it is not read again.
 */
export async function loadAlertView(
  deps: AlertDeps,
  alertId: string,
  known?: AlertItem,
): Promise<AlertView | null> {
  const alert = known ?? (await deps.store.get<AlertItem>(keys.alert(alertId)));
  if (!alert) return null;
  const violations = await violationsOf(deps.store, alert.violationIds);
  return {
    alert,
    violations,
    accountAlias: deps.config.accounts.aliases[alert.account] ?? null,
    now: deps.clock(),
  };
}

/** These violations as they are now, in their order, in one batch read (none missing from the table). */
export async function violationsOf(store: StateStore, ids: readonly string[]): Promise<ViolationItem[]> {
  if (ids.length === 0) return [];
  const found = await store.getMany<ViolationItem>(ids.map((id) => keys.violation(id)));
  return ids
    .map((id) => found.get(keyId(keys.violation(id))))
    .filter((v): v is ViolationItem => v !== undefined);
}

/**
 * Posts an alert's message once (pass `staleClaim` to take over a POSTING claim whose lease ran out): claims it (UNNOTIFIED → POSTING), posts, records channel and ts (→ POSTED).
 * When Slack fails the alert goes back to UNNOTIFIED with a later due time, so a sweep posts it.
 * Returns true when this call posted the message.
 */
export async function postAlert(
  deps: AlertDeps,
  alertId: string,
  options: Parameters<typeof postAlertOutcome>[2] = {},
): Promise<boolean> {
  return (await postAlertOutcome(deps, alertId, options)) === 'posted';
}

/** What one attempt to post an alert came to. */
export type PostOutcome = 'posted' | 'not-claimable' | 'failed' | 'rate-limited';

/** Like postAlert, saying what happened: a sweep stops posting for a while after 'rate-limited'. */
export async function postAlertOutcome(
  deps: AlertDeps,
  alertId: string,
  options: {
    staleClaim?: AlertItem;
    /** The alert's violations as the caller just wrote them (detection): not read again. */
    violations?: ViolationItem[];
  } = {},
): Promise<PostOutcome> {
  const { store, clock, logger } = deps;
  const now = clock();
  let claimed: AlertItem;
  try {
    // A stale claim (its poster died) is taken over only at the exact version the sweeper saw.
    claimed = await store.transition<AlertItem>({
      key: keys.alert(alertId),
      from: options.staleClaim ? ['POSTING'] : ['UNNOTIFIED'],
      ...(options.staleClaim ? { expectVersion: options.staleClaim.version } : {}),
      to: 'POSTING',
      due: { kind: 'NOTIFY', at: plusSeconds(now, POST_LEASE_SECONDS) },
      audit: null,
    });
  } catch (error) {
    logger.debug({ alertId, err: describeError(error) }, 'alert not claimable for posting');
    return 'not-claimable';
  }
  const view: AlertView | null = options.violations
    ? {
        alert: claimed,
        violations: options.violations,
        accountAlias: deps.config.accounts.aliases[claimed.account] ?? null,
        now: clock(),
      }
    : await loadAlertView(deps, alertId, claimed);
  if (!view) return 'not-claimable';
  // A reply in a thread goes where that thread is; else the route's channel, stored with the alert (an
  // alert stored before routes goes to the alert channel).
  const channel = view.alert.thread?.channel ?? claimed.channel ?? deps.config.slack.alertChannel;
  // An earlier attempt may have reached Slack without an answer (a timeout, a 5xx, a poster that died
  // holding the claim): look for its message before posting, so the alert never shows twice.
  const uncertainSince =
    claimed.postUncertainSince ??
    (options.staleClaim?.dueAt ? plusSeconds(new Date(options.staleClaim.dueAt), -POST_LEASE_SECONDS) : null);
  if (uncertainSince && deps.notifier.findAlert) {
    const found = await deps.notifier
      .findAlert(channel, alertId, plusSeconds(new Date(uncertainSince), -LOOKBACK_SECONDS))
      .catch((error) => {
        logger.warn({ alertId, err: describeError(error) }, 'could not look for an earlier post; posting');
        return null;
      });
    if (found) {
      await recordPosted(deps, claimed, found, { adopted: true, uncertainSince }, view.violations);
      logger.info({ alertId, ts: found.ts }, 'alert was already posted; adopted its message');
      // The message shows the alert as it was then: bring it up to date.
      await refreshAlertMessage(deps, alertId);
      return 'posted';
    }
  }
  try {
    // Posted late, its rules get their full time from now: the message shows the deadlines they will have.
    const postedAt = clock().toISOString();
    const ref = await deps.notifier.postAlert(channel, {
      ...view,
      violations: withVisibleDeadlines(view.violations, postedAt),
    });
    await recordPosted(deps, claimed, ref, { postedAt }, view.violations);
    logger.info({ alertId, channel: ref.channel, ts: ref.ts }, 'alert posted');
    return 'posted';
  } catch (error) {
    if (error instanceof RateLimitedError) {
      // Slack's limit is not the alert's fault: wait as long as Slack asks (plus jitter so a burst
      // spreads out), without counting an attempt or writing an audit entry per refusal.
      const wait = error.retryAfterSeconds + Math.random() * 2;
      await store.transition({
        key: keys.alert(alertId),
        from: ['POSTING'],
        to: 'UNNOTIFIED',
        ...(uncertainSince ? { set: { postUncertainSince: uncertainSince } } : {}),
        due: { kind: 'NOTIFY', at: plusSeconds(clock(), wait) },
        audit: null,
      });
      logger.info({ alertId, retryAfter: error.retryAfterSeconds }, 'alert post rate-limited; will retry');
      return 'rate-limited';
    }
    const attempts = claimed.notifyAttempts + 1;
    const backoff = backoffSeconds(attempts, 30, MAX_BACKOFF_SECONDS);
    logger.warn({ alertId, attempts, err: describeError(error) }, 'alert not posted; will retry');
    await store.transition({
      key: keys.alert(alertId),
      from: ['POSTING'],
      to: 'UNNOTIFIED',
      // Slack may have posted it anyway (only a rate limit says for sure that it did not).
      set: {
        notifyAttempts: attempts,
        notifyError: describeError(error),
        postUncertainSince: uncertainSince ?? now.toISOString(),
      },
      due: { kind: 'NOTIFY', at: plusSeconds(clock(), backoff) },
      audit: {
        subjectId: alertId,
        subjectType: 'alert',
        action: 'notify',
        fromState: 'UNNOTIFIED',
        toState: 'UNNOTIFIED',
        actorType: 'system',
        actorId: 'sg-warden',
        actorName: 'sg-warden',
        result: 'error',
        error: describeError(error),
        at: clock().toISOString(),
      },
    });
    return 'failed';
  }
}

/**
 * Ends a post (or the adoption of a message found in the channel): POSTING → POSTED, and the violations
 * learn where. With `postedAt` (a post made now, not an adoption), deadlines of a late post move to count
 * from it; with `digestId`, the message is that digest's. `violations` (as shown; read when not given)
 * get their reminders.
 */
export async function recordPosted(
  deps: AlertDeps,
  claimed: AlertItem,
  ref: MessageRef,
  details: { adopted?: boolean; uncertainSince?: string; postedAt?: string; digestId?: string },
  violations?: ViolationItem[],
): Promise<void> {
  const { store, clock } = deps;
  const posted: Transition = {
    key: keys.alert(claimed.alertId),
    from: ['POSTING'],
    to: 'POSTED',
    set: {
      channel: ref.channel,
      ts: ref.ts,
      notifyAttempts: claimed.notifyAttempts + 1,
      ...(details.postedAt ? { postedAt: details.postedAt } : {}),
    },
    remove: ['notifyError', 'postUncertainSince'],
    due: null,
    audit: {
      subjectId: claimed.alertId,
      subjectType: 'alert',
      action: 'notify',
      fromState: 'UNNOTIFIED',
      toState: 'POSTED',
      actorType: 'system',
      actorId: 'sg-warden',
      actorName: 'sg-warden',
      result: 'ok',
      details: {
        channel: ref.channel,
        ts: ref.ts,
        ...(details.adopted
          ? { note: 'an earlier post reached Slack after all: its message was kept, not posted again' }
          : {}),
        ...(details.digestId ? { digestId: details.digestId } : {}),
      },
      at: clock().toISOString(),
    },
  };
  const shown = violations ?? (await violationsOf(store, claimed.violationIds));
  // One write: the post, where each violation's message is, and their reminders. Should any of that not
  // fit (a reminder that exists: an alert adopted or posted again), the post is recorded on its own and
  // the rest after it, each as before.
  const where = { channel: ref.channel, ts: ref.ts };
  const alsoPatch = claimed.violationIds.map((id) => ({ key: keys.violation(id), set: where }));
  const reminders = remindersFor(deps.config, shown, ref, clock());
  const reminderPuts = reminders.map((r) => r as unknown as Record<string, unknown>);
  // A transaction's writes: the alert's update and entry, then patches (and reminders) that fit.
  const room = MAX_TRANSACTION_WRITES - 2;
  const withReminders =
    alsoPatch.length + reminderPuts.length <= room &&
    (await tryMove(store, { ...posted, alsoPatch, alsoPut: reminderPuts }));
  const withPatches =
    withReminders ||
    (alsoPatch.length + reminderPuts.length > room &&
      alsoPatch.length <= room &&
      (await tryMove(store, { ...posted, alsoPatch })));
  if (!withPatches) {
    await store.move(posted);
    await Promise.allSettled(claimed.violationIds.map((id) => store.patch(keys.violation(id), where)));
  }
  if (details.postedAt) await restartLateDeadlines(deps, claimed.violationIds, details.postedAt, shown);
  await scheduleReminders(deps, shown, ref, withReminders ? reminders : undefined);
}

/**
 * Re-renders an alert's message from the current state. Re-reads after updating and renders again
 * when a violation changed meanwhile, so the last render shows the latest state. When Slack fails the
 * update, the alert is made due (NOTIFY) so a sweep brings the message up to date later. Returns false
 * when the message could not be updated.
 */
export async function refreshAlertMessage(
  deps: AlertDeps,
  alertId: string,
  /** The alert as the caller read it for this request (a posted alert's message and digest do not move). */
  known?: AlertItem,
): Promise<boolean> {
  return (await refreshAlertMessageOutcome(deps, alertId, known)) === 'updated';
}

/**
 * Like refreshAlertMessage, saying what happened (a sweep paces its updates by it). An alert carried by
 * a digest has no message of its own: the digest's message is brought up to date instead.
 */
export async function refreshAlertMessageOutcome(
  deps: AlertDeps,
  alertId: string,
  known?: AlertItem,
): Promise<UpdateOutcome> {
  // Only a posted alert's read is taken as it is: one not posted then may have been since.
  const stored =
    known?.alertId === alertId && known.status === 'POSTED'
      ? known
      : await deps.store.get<AlertItem>(keys.alert(alertId));
  if (stored?.digestId && stored.status === 'POSTED')
    return refreshDigestMessageOutcome(deps, stored.digestId);
  // The alert as just read; its violations as they are now. Rendered again while a violation changed
  // during the update (the alert's own changes are its post and its digest, which this read saw).
  for (let attempt = 0; attempt < 3; attempt++) {
    const view = await loadAlertView(deps, alertId, stored ?? undefined);
    if (view?.alert.status !== 'POSTED' || !view.alert.channel || !view.alert.ts) return 'updated';
    const versions = view.violations.map((v) => v.version).join(',');
    try {
      await deps.notifier.updateAlert({ channel: view.alert.channel, ts: view.alert.ts }, view);
    } catch (error) {
      deps.logger.warn({ alertId, err: describeError(error) }, 'alert message not updated');
      await scheduleRefresh(deps, view.alert, error);
      return error instanceof RateLimitedError ? 'rate-limited' : 'failed';
    }
    // Rules that are gone or resolved never change again: what was shown is what stays.
    if (view.violations.every((v) => FINAL_STATUSES.includes(v.status))) return 'updated';
    const after = await violationsOf(deps.store, view.alert.violationIds);
    if (after.map((v) => v.version).join(',') === versions) return 'updated';
  }
  return 'updated';
}

/**
 * Makes a posted alert due again so a sweep re-renders its message (backing off, and not forever). A
 * rate limit is not the message's fault: due again when Slack said, without counting an attempt.
 */
async function scheduleRefresh(deps: AlertDeps, alert: AlertItem, error?: unknown): Promise<void> {
  if (error instanceof RateLimitedError) {
    await deps.store
      .patch(
        keys.alert(alert.alertId),
        { updatePendingSince: alert.updatePendingSince ?? deps.clock().toISOString() },
        { kind: 'NOTIFY', at: plusSeconds(deps.clock(), error.retryAfterSeconds) },
      )
      .catch((err) =>
        deps.logger.error(
          { alertId: alert.alertId, err: describeError(err) },
          'message refresh not scheduled',
        ),
      );
    return;
  }
  const attempts = (alert.refreshAttempts ?? 0) + 1;
  const giveUp = attempts > MAX_REFRESH_ATTEMPTS;
  const backoff = backoffSeconds(attempts, 30, MAX_BACKOFF_SECONDS);
  await deps.store
    .patch(
      keys.alert(alert.alertId),
      { refreshAttempts: giveUp ? 0 : attempts },
      giveUp ? null : { kind: 'NOTIFY', at: plusSeconds(deps.clock(), backoff) },
    )
    .catch((error) =>
      deps.logger.error(
        { alertId: alert.alertId, err: describeError(error) },
        'message refresh not scheduled',
      ),
    );
  if (giveUp) deps.logger.error({ alertId: alert.alertId, attempts }, 'alert message left out of date');
}

/**
 * NOTIFY for an alert that is already posted: its message missed an update (Slack failed). Re-renders
 * it; once that works, the alert leaves the due index.
 */
export async function retryAlertRefresh(deps: AlertDeps, alert: AlertItem): Promise<void> {
  if (await refreshAlertMessage(deps, alert.alertId)) {
    await deps.store.patch(keys.alert(alert.alertId), { refreshAttempts: 0 }, null);
  }
}
