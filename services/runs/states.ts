import type { Refusal } from '../kernel/refusal';
import type { Transition } from '../kernel/state';
import { type StepSpec, step } from '../kernel/step';
import { FINAL_RUN_STATUSES, type RunItem, type RunStatus } from './items';

/**
 * Every move a run may make, as data: from each state, the states it may go to.
 *
 * - AWAITING_APPROVAL → SENDING (approved), REJECTED, CANCELLED (withdrawn, or its message could not be
 *   posted), EXPIRED (nobody approved in time)
 * - SENDING → RUNNING (SSM took it), SEND_FAILED (SSM refused, a target went offline), SEND_UNKNOWN
 *   (the sender's lease ran out), CANCELLED (its message could not be posted)
 * - RUNNING → POLLING (a sweep claims it to read results)
 * - POLLING → POLLING (a result recorded, or a dead poller's lease taken over), RUNNING (released until
 *   the next look), SUCCEEDED / FAILED (every instance final and posted)
 * - the final states go nowhere.
 */
export const RUN_MOVES: Readonly<Record<RunStatus, readonly RunStatus[]>> = {
  AWAITING_APPROVAL: ['SENDING', 'REJECTED', 'CANCELLED', 'EXPIRED'],
  SENDING: ['RUNNING', 'SEND_FAILED', 'SEND_UNKNOWN', 'CANCELLED'],
  RUNNING: ['POLLING'],
  POLLING: ['POLLING', 'RUNNING', 'SUCCEEDED', 'FAILED'],
  SUCCEEDED: [],
  FAILED: [],
  REJECTED: [],
  EXPIRED: [],
  CANCELLED: [],
  SEND_FAILED: [],
  SEND_UNKNOWN: [],
};

/** True when the state table lets a run go from `from` to `to`. */
export function mayMove(from: string, to: RunStatus): boolean {
  return (RUN_MOVES[from as RunStatus] ?? []).includes(to);
}

/** True when the run will not change any more. */
export function isFinalRun(run: Pick<RunItem, 'status'>): boolean {
  return FINAL_RUN_STATUSES.includes(run.status);
}

/** A move of a run as the conditional write that makes it (kernel `step()`), or no move outside the table. */
export interface RunStep extends StepSpec {
  to: RunStatus;
}

/**
 * The conditional write that moves `run` as `spec` says. A move the state table does not allow is a bug
 * in sg-warden, not a race: it throws before anything is written.
 */
export function moveRun(run: RunItem, spec: RunStep): Transition {
  for (const from of spec.from ?? [run.status]) {
    if (!mayMove(from, spec.to)) throw new Error(`a run cannot move from ${from} to ${spec.to}`);
  }
  return step(run, spec);
}

/** A sender that holds SENDING longer than this is presumed dead. */
export const SEND_LEASE_SECONDS = 300;
/** A poller that holds POLLING longer than this is presumed dead. */
export const POLL_LEASE_SECONDS = 120;
/** Tries to post an instance's result before giving up (the run still finishes). */
export const MAX_POST_ATTEMPTS = 5;

/**
 * When the next look at a run in flight is due: soon after sending (most runbooks take seconds), then
 * less often. The deployed sweeper runs every minute, so this only matters for faster sweeps (sandbox).
 */
export function nextPollSeconds(sentAt: string | undefined, now: Date): number {
  const elapsed = sentAt ? (now.getTime() - Date.parse(sentAt)) / 1000 : 0;
  if (elapsed < 60) return 2;
  if (elapsed < 600) return 10;
  return 30;
}

/** SSM's final invocation states: nothing changes after these. */
const FINAL_SSM_STATUSES: ReadonlySet<string> = new Set([
  'Success',
  'Failed',
  'TimedOut',
  'Cancelled',
  'Undeliverable',
  'Terminated',
]);

/** True for an invocation status SSM never leaves (and sg-warden's own `Undetermined`). */
export function isFinalInvocation(status: string): boolean {
  return FINAL_SSM_STATUSES.has(status) || status === 'Undetermined';
}

/** Where a run is, as the end of a sentence ("Run r-… was rejected by sam"). */
export function stateSentence(run: RunItem): string {
  const by = run.decidedByName ? ` by ${run.decidedByName}` : '';
  switch (run.status) {
    case 'AWAITING_APPROVAL':
      return 'is waiting for approval';
    case 'SENDING':
    case 'RUNNING':
    case 'POLLING':
      return `was approved${by} and is running`;
    case 'REJECTED':
      return `was rejected${by}`;
    case 'CANCELLED':
      return `was cancelled${by}`;
    case 'EXPIRED':
      return 'expired unapproved';
    default:
      return `${run.decidedBy ? `was approved${by} and ` : 'has '}finished (${run.status})`;
  }
}

/** The refusal of a decision on a run that no longer awaits one: it says what happened instead. */
export function alreadyDecided(run: RunItem): Refusal {
  return { code: 'STATE_CONFLICT', message: `Run ${run.runId} ${stateSentence(run)}.` };
}
