import type { DueKind } from '../kernel/state';
import type { DueHandler } from '../kernel/sweep';
import { expireApproval } from './approval';
import type { RunDeps } from './deps';
import type { RunItem } from './items';
import { pollRun } from './poll';

/**
 * The sweeper's `/sg-run` work, on the sweep's clock: follow runs in flight (RUN_POLL), expire
 * unapproved requests (RUN_APPROVAL_EXPIRY). `deps.notifier` is the run notifier the wiring built.
 */
export function runDueHandlers(deps: RunDeps): Partial<Record<DueKind, DueHandler>> {
  const at = (now: Date): RunDeps => ({ ...deps, clock: () => now });
  return {
    RUN_POLL: async (item, now) => {
      await pollRun(at(now), item as RunItem, now);
    },
    RUN_APPROVAL_EXPIRY: async (item, now) => {
      await expireApproval(at(now), item as RunItem, now);
    },
  };
}
