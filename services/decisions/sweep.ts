import type { DueKind } from '../kernel/state';
import type { DueHandler } from '../kernel/sweep';
import type { ExceptionItem, ViolationItem } from '../violations/items';
import { type NotifyPacing, pacedNotifyHandler, UNPACED } from '../violations/post-sweep';
import type { DecisionDeps } from './deps';
import { expireException } from './exceptions';
import { reconcileRevoke, retryRevoke, revokeAtDeadline } from './revoke';

/** The deps on the sweep's clock, so leases, backoffs and new deadlines count from the sweep's `now`. */
function atTime(deps: DecisionDeps, now: Date): DecisionDeps {
  return { ...deps, clock: () => now };
}

/**
 * The sweeper's decision and alert work: RECONCILE, REVOKE_RETRY, DEADLINE, EXCEPTION_EXPIRY, and NOTIFY
 * last — revoking at a deadline must not wait behind a queue of alerts paced to Slack's rate limit.
 * Build one per sweep (NOTIFY's pacing counts from when it was built).
 */
export function decisionDueHandlers(
  deps: DecisionDeps,
  pacing: NotifyPacing = UNPACED,
): Partial<Record<DueKind, DueHandler>> {
  return {
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
    NOTIFY: pacedNotifyHandler(deps, pacing),
  };
}
