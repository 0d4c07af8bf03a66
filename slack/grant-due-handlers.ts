import { expireGrant, type GrantDeps, warnGrant } from '../services/grants/grants';
import type { GrantItem } from '../services/grants/items';
import type { DueKind } from '../services/kernel/state';
import type { DueHandler } from '../services/kernel/sweep';
import type { SlackDeps } from './deps';
import { SlackGrantNotifier } from './grant-notifier';

/**
 * The sweeper's grant work: GRANT_WARN (offer Extend ten minutes before the end) and GRANT_EXPIRY
 * (remove the rule; retry a failed removal; clean up an abandoned request). Both run on the sweep's clock.
 */
export function grantDueHandlers(deps: SlackDeps): Partial<Record<DueKind, DueHandler>> {
  const at = (now: Date): { grants: GrantDeps; notifier: SlackGrantNotifier } => {
    const clock = () => now;
    return {
      grants: { ...deps, clock },
      notifier: new SlackGrantNotifier({
        client: deps.slack,
        config: deps.config,
        clock,
        logger: deps.logger,
      }),
    };
  };
  return {
    GRANT_WARN: async (item, now) => {
      const { grants, notifier } = at(now);
      await warnGrant(grants, notifier, (item as GrantItem).grantId, now);
    },
    GRANT_EXPIRY: async (item, now) => {
      const { grants, notifier } = at(now);
      await expireGrant(grants, notifier, (item as GrantItem).grantId, now);
    },
  };
}
