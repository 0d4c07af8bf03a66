import type { DueKind } from '../kernel/state';
import type { DueHandler } from '../kernel/sweep';
import type { ExceptionItem, ViolationItem } from '../violations/items';
import { requestMessageUpdate } from '../violations/message-updates';
import { type NotifyPacing, pacedNotifyHandler, UNPACED } from '../violations/post-sweep';
import type { DecisionDeps } from './deps';
import { expireException } from './exceptions';
import { type RevokeResult, reconcileRevoke, retryRevoke, revokeAtDeadline } from './revoke';

/** The deps on the sweep's clock, so leases, backoffs and new deadlines count from the sweep's `now`. */
function atTime(deps: DecisionDeps, now: Date): DecisionDeps {
  return { ...deps, clock: () => now };
}

/** Outcomes that changed nothing a message shows. */
const UNCHANGED: readonly RevokeResult['outcome'][] = ['not-found', 'not-pending', 'lost-race'];

/**
 * A sweep's revoke does not update its message itself: it marks the message (in the table) and the
 * sweep's NOTIFY pass updates each marked message once, at Slack's pace — one update per message per
 * sweep however many of its rules the wave revoked.
 */
async function revokeThenMark(
  deps: DecisionDeps,
  seen: ViolationItem,
  revoke: (options: { refresh: false }) => Promise<RevokeResult>,
): Promise<void> {
  const result = await revoke({ refresh: false });
  if (!UNCHANGED.includes(result.outcome)) await requestMessageUpdate(deps, seen.alertId);
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
  // Each group's tags read once for the sweep (the deadlines it acts on have all passed).
  const sweepDeps: DecisionDeps = { ...deps, sweepGroupTags: new Map() };
  return {
    RECONCILE: async (item, now) => {
      const at = atTime(sweepDeps, now);
      await revokeThenMark(at, item as ViolationItem, (o) => reconcileRevoke(at, item as ViolationItem, o));
    },
    REVOKE_RETRY: async (item, now) => {
      const at = atTime(sweepDeps, now);
      await revokeThenMark(at, item as ViolationItem, (o) => retryRevoke(at, item as ViolationItem, o));
    },
    DEADLINE: async (item, now) => {
      const at = atTime(sweepDeps, now);
      await revokeThenMark(at, item as ViolationItem, (o) => revokeAtDeadline(at, item as ViolationItem, o));
    },
    EXCEPTION_EXPIRY: async (item, now) => {
      await expireException(atTime(deps, now), item as ExceptionItem);
    },
    NOTIFY: pacedNotifyHandler(deps, pacing),
  };
}
