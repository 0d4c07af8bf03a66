import { SYSTEM_ACTOR } from '../kernel/audit';
import { keys, type StateStore, tryTransition } from '../kernel/state';
import { step } from '../kernel/step';
import { describeError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { LATE_POST_SECONDS, visibleDeadline } from './digest-plan';
import type { ViolationItem } from './items';

/**
 * Deadlines that respect visibility: when an alert (single or digest) reached the channel more than a
 * minute after its violations were detected, each still-pending violation's deadline counts from the
 * post instead, so nobody loses decision time to a queue. Each move is a conditional write on the
 * violation as read (a decision made meanwhile wins, and the deadline is left alone) with an audit entry
 * that records both times. Returns how many deadlines moved.
 */
export async function restartLateDeadlines(
  deps: { store: StateStore; logger: Logger },
  violationIds: readonly string[],
  postedAt: string,
  /** The violations as read just before the post: one whose deadline need not move is not read again. */
  shown: readonly ViolationItem[] = [],
): Promise<number> {
  const known = new Map(shown.map((v) => [v.violationId, v]));
  const moved = await Promise.all(
    violationIds.map(async (id) => {
      try {
        const before = known.get(id);
        // Posted in time (or decided already): its deadline stands, and nothing is read or written.
        if (before && !visibleDeadline(before, postedAt)) return false;
        const v = await deps.store.get<ViolationItem>(keys.violation(id));
        const deadline = v ? visibleDeadline(v, postedAt) : null;
        if (!v || !deadline) return false;
        const delaySeconds = Math.round((Date.parse(postedAt) - Date.parse(v.createdAt)) / 1000);
        const after = await tryTransition(
          deps.store,
          step(v, {
            to: 'PENDING',
            action: 'deadline',
            by: SYSTEM_ACTOR,
            at: postedAt,
            due: { kind: 'DEADLINE', at: deadline },
            set: { deadline, postedAt },
            details: {
              reason: `the alert was posted ${delaySeconds} s after detection (more than ${LATE_POST_SECONDS} s): the deadline counts from the post`,
              detectedAt: v.createdAt,
              postedAt,
              previousDeadline: v.deadline,
              deadline,
            },
          }),
        );
        return after !== null;
      } catch (error) {
        // The deadline as it was still stands: never later than promised, only not extended.
        deps.logger.warn(
          { violationId: id, err: describeError(error) },
          'deadline not moved after a late post',
        );
        return false;
      }
    }),
  );
  return moved.filter(Boolean).length;
}
