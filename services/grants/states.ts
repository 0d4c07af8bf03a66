import type { GrantStatus, LinkItem } from './items';

/** One kind of move a grant makes: the states it may start from and the state(s) it ends in. */
export interface GrantMove {
  from: readonly GrantStatus[];
  to: readonly GrantStatus[];
}

/**
 * Every move a grant makes, as data: the orchestration takes its `from` states from here, and a unit
 * test pins the table, so a new state or move is a visible change in one place.
 */
export const GRANT_MOVES = {
  /** EC2 added the rule (or it was found by its tag): the grant is live. */
  activate: { from: ['PENDING'], to: ['ACTIVE'] },
  /** EC2 refused, the same rule was someone else's, or the request was abandoned mid-way. */
  fail: { from: ['PENDING'], to: ['FAILED'] },
  /** A new expiry (the owner extended it); re-arms the warning. */
  extend: { from: ['ACTIVE'], to: ['ACTIVE'] },
  /** The warning before the end was sent (bookkeeping, not audited). */
  warn: { from: ['ACTIVE'], to: ['ACTIVE'] },
  /** Removal claimed, with a lease: the sweeper takes over a claim whose holder died. */
  claim: { from: ['ACTIVE', 'REVOKE_FAILED', 'REVOKING'], to: ['REVOKING'] },
  /** The rule is gone: by the clock (EXPIRED) or at a person's request (REVOKED). */
  finish: { from: ['REVOKING'], to: ['EXPIRED', 'REVOKED'] },
  /** The revoke failed; retried with backoff while the rule exists. */
  retryLater: { from: ['REVOKING'], to: ['REVOKE_FAILED'] },
} as const satisfies Record<string, GrantMove>;

/** Statuses in which a grant's rule may exist in EC2. */
export const LIVE_GRANT_STATUSES: readonly GrantStatus[] = ['PENDING', 'ACTIVE', 'REVOKING', 'REVOKE_FAILED'];

/** Statuses a grant never leaves. */
export const FINAL_GRANT_STATUSES: readonly GrantStatus[] = ['EXPIRED', 'REVOKED', 'FAILED'];

/** Statuses a person may end a grant from (early revoke, "Not me"). */
export const REVOCABLE_GRANT_STATUSES: readonly GrantStatus[] = ['ACTIVE', 'REVOKE_FAILED'];

/** True when some move takes a grant from `from` to `to`. */
export function canMove(from: GrantStatus, to: GrantStatus): boolean {
  return Object.values(GRANT_MOVES).some(
    (m) => (m.from as readonly GrantStatus[]).includes(from) && (m.to as readonly GrantStatus[]).includes(to),
  );
}

/** A `me` link moves once: OPEN → USED, by a conditional write, so two presses cannot both win. */
export const LINK_MOVES = {
  use: { from: ['OPEN'], to: ['USED'] },
} as const satisfies Record<
  string,
  { from: readonly LinkItem['status'][]; to: readonly LinkItem['status'][] }
>;
