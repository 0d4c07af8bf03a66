import type { DueKind } from '../services/kernel/state';
import type { DueHandler } from '../services/kernel/sweep';
import type { RunItem } from '../services/runs/items';
import { expireApproval, pollRun } from '../services/runs/runs';
import type { SlackDeps } from './deps';
import { runDeps } from './run-notifier';

/** The sweeper's `/sg-run` work, on the sweep's clock: follow runs in flight, expire unapproved requests. */
export function runDueHandlers(deps: SlackDeps): Partial<Record<DueKind, DueHandler>> {
  return {
    RUN_POLL: async (item, now) => {
      await pollRun(
        runDeps(deps, () => now),
        item as RunItem,
        now,
      );
    },
    RUN_APPROVAL_EXPIRY: async (item, now) => {
      await expireApproval(
        runDeps(deps, () => now),
        item as RunItem,
        now,
      );
    },
  };
}
