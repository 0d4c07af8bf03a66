import { postAlert } from '../services/alerts';
import type { AlertItem, DueKind } from '../services/store';
import type { DueHandler } from '../services/sweeper';
import type { SlackDeps } from './deps';

/**
 * The sweeper's work, by due kind. Each feature adds its kinds here (decisions: DEADLINE,
 * REVOKE_RETRY, RECONCILE, EXCEPTION_EXPIRY; whitelist: GRANT_*; runs: RUN_*).
 */
export function dueHandlers(deps: SlackDeps): Partial<Record<DueKind, DueHandler>> {
  return {
    // Alerts Slack did not take (or whose poster died mid-claim) are posted again.
    NOTIFY: async (item) => {
      const alert = item as AlertItem;
      await postAlert(deps, alert.alertId, alert.status === 'POSTING' ? { staleClaim: alert } : {});
    },
  };
}
