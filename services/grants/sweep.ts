import type { DueKind } from '../kernel/state';
import type { DueHandler } from '../kernel/sweep';
import type { GrantDeps, GrantNotifier } from './deps';
import { expireGrant, warnGrant } from './expiry';
import type { GrantItem } from './items';

/**
 * The sweeper's grant work: GRANT_WARN (offer Extend ten minutes before the end) and GRANT_EXPIRY
 * (remove the rule; retry a failed removal; clean up an abandoned request). Both run on the sweep's clock.
 */
export function grantDueHandlers(
  deps: GrantDeps,
  notifier: GrantNotifier,
): Partial<Record<DueKind, DueHandler>> {
  const at = (now: Date): GrantDeps => ({ ...deps, clock: () => now });
  return {
    GRANT_WARN: async (item, now) => {
      await warnGrant(at(now), notifier, (item as GrantItem).grantId, now);
    },
    GRANT_EXPIRY: async (item, now) => {
      await expireGrant(at(now), notifier, (item as GrantItem).grantId, now);
    },
  };
}
