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

/** One channel's pace within a sweep: Slack limits posts per channel, so each channel keeps its own. */
interface ChannelPace {
  lastPostAt: number;
  pauseMs: number;
  stopped: boolean;
}

/**
 * NOTIFY for one sweep: alerts Slack did not take (or whose poster died mid-claim) are posted again, one
 * at a time, at most one per `minIntervalMs` in each channel and within the sweep's budget; after a rate
 * limit that channel backs off (paced) or stops (unpaced), and other channels go on. A posted alert that
 * is due had a message update fail: it is re-rendered. Runs on the sweep's clock. Build one per sweep: it
 * remembers when it last posted to each channel.
 */
export function pacedNotifyHandler(deps: AlertDeps, pacing: NotifyPacing = UNPACED): DueHandler {
  const nowMs = pacing.nowMs ?? Date.now;
  const pause = pacing.sleep ?? sleep;
  const startedAt = nowMs();
  const channels = new Map<string, ChannelPace>();
  let overBudget = false;
  const paced = pacing.minIntervalMs > 0;
  return async (item, now) => {
    const alert = item as AlertItem;
    const atNow: AlertDeps = { ...deps, clock: () => now };
    // A posted alert is due when an update of its message failed: re-render it.
    if (alert.status === 'POSTED') return retryAlertRefresh(atNow, alert);
    const channel = alert.channel ?? deps.config.slack.alertChannel;
    let pace = channels.get(channel);
    if (!pace) {
      pace = { lastPostAt: Number.NEGATIVE_INFINITY, pauseMs: 0, stopped: false };
      channels.set(channel, pace);
    }
    if (overBudget || pace.stopped) return;
    const wait = Math.max(0, pace.lastPostAt + pacing.minIntervalMs + pace.pauseMs - nowMs());
    if (nowMs() + wait - startedAt > pacing.budgetMs) {
      // Out of time for this channel's next post; a later alert of a quieter channel may still fit.
      if (wait === 0) overBudget = true;
      return;
    }
    if (wait > 0) await pause(wait);
    const outcome = await postAlertOutcome(
      atNow,
      alert.alertId,
      alert.status === 'POSTING' ? { staleClaim: alert } : {},
    );
    // Counted from the end of the call, so two posts never reach Slack closer than the interval.
    pace.lastPostAt = nowMs();
    if (outcome !== 'rate-limited') {
      pace.pauseMs = 0;
      return;
    }
    // Unpaced, the first rate limit ends posting to that channel for this sweep; paced, back off (1 s, 2 s, 4 s …) and go on.
    if (!paced) pace.stopped = true;
    pace.pauseMs = Math.min(8000, Math.max(1000, pace.pauseMs * 2));
  };
}
