import type { DueHandler } from '../kernel/sweep';
import { type AlertDeps, postAlertOutcome, retryAlertRefresh } from './alerts';
import type { AlertItem } from './items';

/** How the sweeper paces alert posts to one channel (Slack allows about one message a second). */
export interface NotifyPacing {
  /** Least time between two posts. */
  minIntervalMs: number;
  /** Posting stops this long after the sweep began; the rest stay due for the next sweep. */
  budgetMs: number;
  /** Wall clock and sleep (real ones unless a test gives its own). */
  nowMs?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** No pacing: post as fast as answers come, and stop at the first rate limit (tests, one-off sweeps). */
export const UNPACED: NotifyPacing = { minIntervalMs: 0, budgetMs: Number.POSITIVE_INFINITY };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * NOTIFY for one sweep: alerts Slack did not take (or whose poster died mid-claim) are posted again, one
 * at a time, at most one per `minIntervalMs` and within the sweep's budget; after a rate limit it backs
 * off (paced) or stops (unpaced). A posted alert that is due had a message update fail: it is re-rendered.
 * Runs on the sweep's clock. Build one per sweep: it remembers when it last posted.
 */
export function pacedNotifyHandler(deps: AlertDeps, pacing: NotifyPacing = UNPACED): DueHandler {
  const nowMs = pacing.nowMs ?? Date.now;
  const pause = pacing.sleep ?? sleep;
  const startedAt = nowMs();
  let lastPostAt = Number.NEGATIVE_INFINITY;
  let pauseMs = 0;
  let stopped = false;
  const paced = pacing.minIntervalMs > 0;
  return async (item, now) => {
    const alert = item as AlertItem;
    const atNow: AlertDeps = { ...deps, clock: () => now };
    // A posted alert is due when an update of its message failed: re-render it.
    if (alert.status === 'POSTED') return retryAlertRefresh(atNow, alert);
    if (stopped) return;
    const wait = Math.max(0, lastPostAt + pacing.minIntervalMs + pauseMs - nowMs());
    if (nowMs() + wait - startedAt > pacing.budgetMs) {
      stopped = true;
      return;
    }
    if (wait > 0) await pause(wait);
    const outcome = await postAlertOutcome(
      atNow,
      alert.alertId,
      alert.status === 'POSTING' ? { staleClaim: alert } : {},
    );
    // Counted from the end of the call, so two posts never reach Slack closer than the interval.
    lastPostAt = nowMs();
    if (outcome !== 'rate-limited') {
      pauseMs = 0;
      return;
    }
    // Unpaced, the first rate limit ends posting for this sweep; paced, back off (1 s, 2 s, 4 s …) and go on.
    if (!paced) stopped = true;
    pauseMs = Math.min(8000, Math.max(1000, pauseMs * 2));
  };
}
