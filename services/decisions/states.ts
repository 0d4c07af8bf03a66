import { type AuditActor, TIMEOUT_ACTOR } from '../kernel/audit';
import type { Refusal } from '../kernel/refusal';
import { backoffSeconds } from '../kernel/time';
import { AwsCallError } from '../shared/errors';
import type { Person } from '../shared/people';
import type { AwsTarget } from '../shared/ports';
import type { ExceptionItem, ViolationItem, ViolationStatus } from '../violations/items';

/**
 * The decision's pure core, part one: the states a violation and its exception go through, the moves
 * allowed between them (as data), the limits, and the words for a decision already taken. No I/O.
 */

/** Who asks for a revoke: a person, or the clock at the deadline. */
export type DecisionActor = ({ type: 'slack-user' } & Person) | { type: 'timeout' };

/**
 * How long a REVOKING claim lasts. Longer than any Lambda run that holds it (the worker and the sweeper
 * time out well within it), so a RECONCILE sweep only ever takes over from a process that died.
 */
export const REVOKE_LEASE_SECONDS = 180;
/** The longest justification a Keep records. */
export const MAX_JUSTIFICATION = 2000;
/** The first wait before a failed revoke is tried again; it doubles each time, up to the maximum. */
const RETRY_BASE_SECONDS = 30;
const MAX_RETRY_BACKOFF_SECONDS = 900;

/** Seconds to wait before revoke attempt `attempt + 1` (30 s, 60 s, 120 s … at most 15 min). */
export function retryBackoffSeconds(attempt: number): number {
  return backoffSeconds(attempt, RETRY_BASE_SECONDS, MAX_RETRY_BACKOFF_SECONDS);
}

/** A violation's moves: the states each starts from and the states it may end in. */
export const VIOLATION_MOVES = {
  /** Revoke / Revoke all / the deadline / a retry claim the rule: one caller wins, and calls EC2. */
  claim: { from: ['PENDING', 'REVOKE_RETRY'], to: ['REVOKING'] },
  /** A claim whose lease ran out is taken over by the RECONCILE sweep. */
  reconcile: { from: ['REVOKING'], to: ['REVOKING'] },
  /** A claim ends with EC2's answer: decided, or tried again later. */
  settle: {
    from: ['REVOKING'],
    to: ['REVOKED', 'AUTO_REVOKED', 'GONE', 'RESOLVED', 'DRY_RUN', 'FAILED', 'REVOKE_RETRY'],
  },
  /** Keep: the rule stays, under an exception that runs out (or not, where permanent is allowed). */
  keep: { from: ['PENDING'], to: ['KEPT'] },
} as const satisfies Record<string, { from: readonly ViolationStatus[]; to: readonly ViolationStatus[] }>;

/** An exception's one move: it runs out (and the rule is asked about again if it still violates). */
export const EXCEPTION_MOVES = {
  expire: { from: ['ACTIVE'], to: ['EXPIRED'] },
} as const satisfies Record<
  string,
  { from: readonly ExceptionItem['status'][]; to: readonly ExceptionItem['status'][] }
>;

/** Whether a violation in this state may be claimed for a revoke. */
export function isClaimable(status: ViolationStatus): boolean {
  return (VIOLATION_MOVES.claim.from as readonly ViolationStatus[]).includes(status);
}

/** Why a person's request was refused (stable codes; the message is the sentence they see). */
export type RefusalCode =
  | 'NOT_AUTHORISED'
  | 'SELF_APPROVAL'
  | 'PERMANENT_NOT_ALLOWED'
  | 'BAD_DURATION'
  | 'BAD_INPUT'
  | 'NOT_FOUND'
  | 'WRONG_MESSAGE'
  | 'ALREADY_DECIDED'
  | 'ALREADY_KEPT'
  /** A direct message's button pressed by someone it was not sent to (services/actors). */
  | 'NOT_YOURS'
  /** The change's author already answered ("I need it"). */
  | 'ALREADY_ANSWERED'
  /** The backstop's schedule could not be deleted, so the rule was not kept (it would still be revoked). */
  | 'BACKSTOP_NOT_REMOVED';

/** A refusal with one of the codes decisions uses. */
export type DecisionRefusal = Refusal & { code: RefusalCode };

/** EC2 error codes that mean the rule (or its group) no longer exists. */
const GONE_CODES = new Set([
  'InvalidGroup.NotFound',
  'InvalidSecurityGroupRuleId.NotFound',
  'InvalidPermission.NotFound',
]);

/** True when EC2 answered that the rule (or its group) does not exist. */
export function isGoneError(error: unknown): boolean {
  return error instanceof AwsCallError && GONE_CODES.has(error.awsCode);
}

/** True when the SDK sent the call more than once (the first try got no answer). */
export function wasRetried(error: unknown): boolean {
  return error instanceof AwsCallError && (error.attempts ?? 1) > 1;
}

/**
 * True when a failed revoke may still have removed the rule: no answer came (timeout, lost connection)
 * or EC2 failed inside (5xx). A 4xx, or throttling, means EC2 did not do it.
 */
export function mayHaveApplied(error: unknown): boolean {
  if (error instanceof AwsCallError && error.awsCode === 'RequestLimitExceeded') return false;
  const status = error instanceof AwsCallError ? error.httpStatus : undefined;
  return status === undefined || status >= 500;
}

/** The audit trail's actor for whoever asked for a revoke. */
export function auditActor(actor: DecisionActor): AuditActor {
  return actor.type === 'timeout' ? TIMEOUT_ACTOR : { type: 'slack-user', id: actor.id, name: actor.name };
}

/** Who a retry acts for: the person who asked first, else the clock. */
export function decisionActor(by: AuditActor | undefined): DecisionActor {
  return by?.type === 'slack-user' ? { type: 'slack-user', id: by.id, name: by.name } : { type: 'timeout' };
}

/** Where a violation's rule lives. */
export function targetOf(v: { account: string; region: string }): AwsTarget {
  return { account: v.account, region: v.region };
}

export function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A sentence saying how a violation was already decided. */
export function alreadyDecided(v: ViolationItem): string {
  const who = v.decidedBy === 'timeout' ? 'the timeout' : (v.decidedByName ?? v.decidedBy ?? 'someone');
  switch (v.status) {
    case 'REVOKING':
    case 'REVOKE_RETRY':
      return 'This rule is already being revoked.';
    case 'PENDING':
      return 'This rule is still waiting for a decision.';
    case 'KEPT':
      return `This rule was already kept by ${who}.`;
    case 'FAILED':
      return 'Revoking this rule already failed; see the alert thread.';
    default:
      return `This rule was already decided: ${v.status.toLowerCase().replace('_', ' ')}${v.decidedBy ? ` by ${who}` : ''}.`;
  }
}
