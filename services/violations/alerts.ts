import type { Config } from '../config/config';
import { keys, type StateStore } from '../kernel/state';
import { backoffSeconds, plusSeconds } from '../kernel/time';
import { describeError, RateLimitedError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { MessageRef } from '../shared/ports';
import type { AlertItem, ViolationItem } from './items';
import type { AlertNotifier, AlertView } from './ports';

export interface AlertDeps {
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
/** Failed message updates retried by sweeps before the message is left as it is (about a day). */
export const MAX_REFRESH_ATTEMPTS = 12;

/** Loads an alert with its violations as they are now. */
export async function loadAlertView(deps: AlertDeps, alertId: string): Promise<AlertView | null> {
  const alert = await deps.store.get<AlertItem>(keys.alert(alertId));
  if (!alert) return null;
  const violations = (
    await Promise.all(alert.violationIds.map((id) => deps.store.get<ViolationItem>(keys.violation(id))))
  ).filter((v): v is ViolationItem => v !== null);
  return {
    alert,
    violations,
    accountAlias: deps.config.accounts.aliases[alert.account] ?? null,
    now: deps.clock(),
  };
}

/**
 * Posts an alert's message once (pass `staleClaim` to take over a POSTING claim whose lease ran out): claims it (UNNOTIFIED → POSTING), posts, records channel and ts (→ POSTED).
 * When Slack fails the alert goes back to UNNOTIFIED with a later due time, so a sweep posts it.
 * Returns true when this call posted the message.
 */
export async function postAlert(
  deps: AlertDeps,
  alertId: string,
  options: { staleClaim?: AlertItem } = {},
): Promise<boolean> {
  return (await postAlertOutcome(deps, alertId, options)) === 'posted';
}

/** What one attempt to post an alert came to. */
export type PostOutcome = 'posted' | 'not-claimable' | 'failed' | 'rate-limited';

/** Like postAlert, saying what happened: a sweep stops posting for a while after 'rate-limited'. */
export async function postAlertOutcome(
  deps: AlertDeps,
  alertId: string,
  options: { staleClaim?: AlertItem } = {},
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
  const view = await loadAlertView(deps, alertId);
  if (!view) return 'not-claimable';
  // A reply in a thread goes where that thread is.
  const channel = view.alert.thread?.channel ?? deps.config.slack.alertChannel;
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
      await recordPosted(deps, claimed, found, { adopted: true, uncertainSince });
      logger.info({ alertId, ts: found.ts }, 'alert was already posted; adopted its message');
      // The message shows the alert as it was then: bring it up to date.
      await refreshAlertMessage(deps, alertId);
      return 'posted';
    }
  }
  try {
    const ref = await deps.notifier.postAlert(channel, view);
    await recordPosted(deps, claimed, ref, {});
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

/** Ends a post (or the adoption of a message found in the channel): POSTING → POSTED, and the violations learn where. */
async function recordPosted(
  deps: AlertDeps,
  claimed: AlertItem,
  ref: MessageRef,
  details: { adopted?: boolean; uncertainSince?: string },
): Promise<void> {
  const { store, clock } = deps;
  await store.transition({
    key: keys.alert(claimed.alertId),
    from: ['POSTING'],
    to: 'POSTED',
    set: { channel: ref.channel, ts: ref.ts, notifyAttempts: claimed.notifyAttempts + 1 },
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
      },
      at: clock().toISOString(),
    },
  });
  await Promise.allSettled(
    claimed.violationIds.map((id) => store.patch(keys.violation(id), { channel: ref.channel, ts: ref.ts })),
  );
}

/**
 * Re-renders an alert's message from the current state. Re-reads after updating and renders again
 * when a violation changed meanwhile, so the last render shows the latest state. When Slack fails the
 * update, the alert is made due (NOTIFY) so a sweep brings the message up to date later. Returns false
 * when the message could not be updated.
 */
export async function refreshAlertMessage(deps: AlertDeps, alertId: string): Promise<boolean> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const view = await loadAlertView(deps, alertId);
    if (view?.alert.status !== 'POSTED' || !view.alert.channel || !view.alert.ts) return true;
    const versions = view.violations.map((v) => v.version).join(',');
    try {
      await deps.notifier.updateAlert({ channel: view.alert.channel, ts: view.alert.ts }, view);
    } catch (error) {
      deps.logger.warn({ alertId, err: describeError(error) }, 'alert message not updated');
      await scheduleRefresh(deps, view.alert);
      return false;
    }
    const after = await loadAlertView(deps, alertId);
    if (!after || after.violations.map((v) => v.version).join(',') === versions) return true;
  }
  return true;
}

/** Makes a posted alert due again so a sweep re-renders its message (backing off, and not forever). */
async function scheduleRefresh(deps: AlertDeps, alert: AlertItem): Promise<void> {
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
