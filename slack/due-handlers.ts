import {
  type DecisionDeps,
  expireException,
  reconcileRevoke,
  retryRevoke,
  revokeAtDeadline,
} from '../services/decisions/decisions';
import { grantDueHandlers } from '../services/grants/sweep';
import type { DueKind } from '../services/kernel/state';
import type { DueHandler } from '../services/kernel/sweep';
import { postAlertOutcome, retryAlertRefresh } from '../services/violations/alerts';
import type { AlertItem, ExceptionItem, ViolationItem } from '../services/violations/items';
import type { SlackDeps } from './deps';
import { runDueHandlers } from './run-due-handlers';

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
 * The sweeper's work, by due kind. Each feature adds its kinds here (decisions: DEADLINE,
 * REVOKE_RETRY, RECONCILE, EXCEPTION_EXPIRY; whitelist: GRANT_*; runs: RUN_*). NOTIFY comes last:
 * revoking at a deadline must not wait behind a queue of alerts paced to Slack's rate limit.
 */
export function dueHandlers(
  deps: SlackDeps,
  pacing: NotifyPacing = UNPACED,
): Partial<Record<DueKind, DueHandler>> {
  const nowMs = pacing.nowMs ?? Date.now;
  const pause = pacing.sleep ?? sleep;
  const startedAt = nowMs();
  let lastPostAt = Number.NEGATIVE_INFINITY;
  let pauseMs = 0;
  let stopped = false;
  const paced = pacing.minIntervalMs > 0;
  return {
    ...runDueHandlers(deps),
    ...grantDueHandlers(deps, deps.grantNotifier),
    // Decisions run on the sweep's clock, so leases, backoffs and new deadlines count from the sweep's `now`.
    RECONCILE: async (item, now) => {
      await reconcileRevoke(atTime(deps, now), item as ViolationItem);
    },
    REVOKE_RETRY: async (item, now) => {
      await retryRevoke(atTime(deps, now), item as ViolationItem);
    },
    DEADLINE: async (item, now) => {
      await revokeAtDeadline(atTime(deps, now), item as ViolationItem);
    },
    EXCEPTION_EXPIRY: async (item, now) => {
      await expireException(atTime(deps, now), item as ExceptionItem);
    },
    // Alerts Slack did not take (or whose poster died mid-claim) are posted again, one at a time.
    NOTIFY: async (item, now) => {
      const alert = item as AlertItem;
      // A posted alert is due when an update of its message failed: re-render it.
      if (alert.status === 'POSTED') return retryAlertRefresh(atTime(deps, now), alert);
      if (stopped) return;
      const wait = Math.max(0, lastPostAt + pacing.minIntervalMs + pauseMs - nowMs());
      if (nowMs() + wait - startedAt > pacing.budgetMs) {
        stopped = true;
        return;
      }
      if (wait > 0) await pause(wait);
      const outcome = await postAlertOutcome(
        atTime(deps, now),
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
    },
  };
}

function atTime(deps: SlackDeps, now: Date): DecisionDeps {
  return { ...deps, clock: () => now };
}
