import { postAlertOutcome, retryAlertRefresh } from '../services/alerts';
import {
  type DecisionDeps,
  expireException,
  reconcileRevoke,
  retryRevoke,
  revokeAtDeadline,
} from '../services/decisions';
import type { AlertItem, DueKind, ExceptionItem, ViolationItem } from '../services/store';
import type { DueHandler } from '../services/sweeper';
import type { SlackDeps } from './deps';
import { grantDueHandlers } from './grant-due-handlers';
import { runDueHandlers } from './run-due-handlers';

/**
 * The sweeper's work, by due kind. Each feature adds its kinds here (decisions: DEADLINE,
 * REVOKE_RETRY, RECONCILE, EXCEPTION_EXPIRY; whitelist: GRANT_*; runs: RUN_*).
 */
export function dueHandlers(deps: SlackDeps): Partial<Record<DueKind, DueHandler>> {
  // Once Slack rate-limits the channel in this sweep, the rest of the alerts wait for the next one.
  let rateLimited = false;
  return {
    ...runDueHandlers(deps),
    ...grantDueHandlers(deps),
    // Alerts Slack did not take (or whose poster died mid-claim) are posted again.
    NOTIFY: async (item, now) => {
      const alert = item as AlertItem;
      // A posted alert is due when an update of its message failed: re-render it.
      if (alert.status === 'POSTED') return retryAlertRefresh(atTime(deps, now), alert);
      if (rateLimited) return;
      const outcome = await postAlertOutcome(
        atTime(deps, now),
        alert.alertId,
        alert.status === 'POSTING' ? { staleClaim: alert } : {},
      );
      if (outcome === 'rate-limited') rateLimited = true;
    },
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
  };
}

function atTime(deps: SlackDeps, now: Date): DecisionDeps {
  return { ...deps, clock: () => now };
}
