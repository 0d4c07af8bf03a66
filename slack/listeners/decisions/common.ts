import type { DecisionTarget } from '../../../services/decisions/requests';
import type { ReplyTarget } from '../../../services/jobs/jobs';
import { BadInputError } from '../../../services/shared/errors';
import type { MessageRef } from '../../../services/shared/ports';

/** Job kinds the decision listeners hand to the worker. */
export const DecisionJobs = {
  revoke: 'decision.revoke',
  keep: 'decision.keep',
  keepPrepare: 'decision.keep-prepare',
} as const;

const ID = /^[\w:.-]{1,100}$/;

/** The alert message the request came from, when there is one. */
export function messageOf(reply: ReplyTarget): MessageRef | null {
  return reply.channel && reply.messageTs ? { channel: reply.channel, ts: reply.messageTs } : null;
}

/**
 * A button's value as a target. Values are only a hint of what was pressed: the service re-reads the
 * items and checks they belong to the message, so an odd value is passed on and refused there.
 */
export function targetFromButton(kind: 'one' | 'all', value: unknown): DecisionTarget {
  const text = typeof value === 'string' ? value.slice(0, 100) : '';
  return kind === 'all' ? { alertId: text } : { violationIds: [text] };
}

/**
 * Reads a target back from job arguments (plain JSON that crossed a Lambda invoke): the rules named (with
 * their alert, when the dialog's binding names it), or an alert.
 */
export function targetFromArgs(args: Record<string, unknown>): DecisionTarget {
  const target = args.target as Record<string, unknown> | undefined;
  const alertId = typeof target?.alertId === 'string' ? target.alertId : undefined;
  if (target && 'violationIds' in target) {
    if (
      Array.isArray(target.violationIds) &&
      target.violationIds.length > 0 &&
      target.violationIds.length <= 50 &&
      target.violationIds.every((id) => typeof id === 'string')
    )
      return { violationIds: target.violationIds as string[], ...(alertId !== undefined ? { alertId } : {}) };
  } else if (alertId !== undefined) return { alertId };
  throw new BadInputError('This request does not name the rules to act on.');
}

/** True for a value shaped like an sg-warden ID (used before putting it into a dialog's metadata). */
export function isIdLike(value: string): boolean {
  return ID.test(value);
}
