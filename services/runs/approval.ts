import { TIMEOUT_ACTOR } from '../kernel/audit';
import { type Refusal, RefusedError, recordRefusal } from '../kernel/refusal';
import { tryTransition } from '../kernel/state';
import { plusSeconds } from '../kernel/time';
import type { Person } from '../shared/people';
import { actorOf, loadRun, type RunDeps, refresh, tell } from './deps';
import type { RunItem, RunStatus } from './items';
import { commandSha256, shownCommandHash } from './plan';
import { sendRun } from './request';
import { specOf } from './spec';
import { alreadyDecided, moveRun, SEND_LEASE_SECONDS } from './states';
import { approverRefusal, commandRefusal, isWithdrawal, rejecterRefusal } from './who-may';

/** Puts a refused decision on the audit trail and throws it as the sentence the person sees. */
async function refuse(
  deps: RunDeps,
  run: RunItem,
  person: Person,
  action: string,
  refusal: Refusal,
  details?: Record<string, unknown>,
): Promise<never> {
  await recordRefusal(deps, {
    subject: { id: run.runId, type: 'run' },
    action,
    by: actorOf(person),
    refusal,
    fromState: run.status,
    ...(details ? { details } : {}),
  });
  throw new RefusedError(refusal);
}

/**
 * A person's decision on a run awaiting approval, as one conditional transition out of AWAITING_APPROVAL
 * at the version that was read (so approve, reject and the expiry cannot both win). Losing that race is
 * refused and audited like any other refusal, saying what happened to the run instead.
 */
async function decide(
  deps: RunDeps,
  run: RunItem,
  person: Person,
  action: 'approve' | 'reject' | 'withdraw',
  to: RunStatus,
  now: Date,
  change: {
    set?: Record<string, unknown>;
    due: { kind: 'RUN_POLL'; at: string } | null;
    details?: Record<string, unknown>;
  },
): Promise<RunItem> {
  const decided = await tryTransition<RunItem>(
    deps.store,
    moveRun(run, {
      to,
      from: ['AWAITING_APPROVAL'],
      action,
      by: actorOf(person),
      at: now.toISOString(),
      set: {
        decidedBy: person.id,
        decidedByName: person.name,
        decidedAt: now.toISOString(),
        ...change.set,
      },
      due: change.due,
      ...(change.details ? { details: change.details } : {}),
    }),
  );
  if (decided) return decided;
  const current = await loadRun(deps, run.runId);
  return refuse(deps, current, person, action === 'approve' ? 'approve' : 'reject', alreadyDecided(current));
}

/**
 * Approve: only an approver who is not the requester, while the run awaits approval and has not
 * expired, and only the command the approver was shown: `shownHash` (from the Approve button) must be
 * the hash of the command stored for the run. One conditional transition (AWAITING_APPROVAL → SENDING)
 * decides between approve, reject and expiry; then the targets are checked again and the command is sent.
 */
export async function approveRun(
  deps: RunDeps,
  runId: string,
  person: Person,
  shownHash: string | null,
): Promise<RunItem> {
  const run = await loadRun(deps, runId);
  if (run.status !== 'AWAITING_APPROVAL') return refuse(deps, run, person, 'approve', alreadyDecided(run));
  const notApprover = await approverRefusal(deps.directory, run, specOf(deps.config, run), person);
  if (notApprover) return refuse(deps, run, person, 'approve', notApprover);
  const stored = shownCommandHash(run);
  const otherCommand = commandRefusal(run, shownHash, stored);
  if (otherCommand)
    return refuse(deps, run, person, 'approve', otherCommand, {
      shownHash: shownHash === null ? null : shownHash.slice(0, 64),
      commandSha256: commandSha256(run),
    });
  const now = deps.clock();
  if (run.approvalExpiresAt && run.approvalExpiresAt <= now.toISOString()) {
    await expireApproval(deps, run, now);
    return refuse(deps, run, person, 'approve', {
      code: 'STATE_CONFLICT',
      message: `Run ${runId} expired unapproved.`,
    });
  }
  const sending = await decide(deps, run, person, 'approve', 'SENDING', now, {
    due: { kind: 'RUN_POLL', at: plusSeconds(now, SEND_LEASE_SECONDS) },
    details: { commandSha256: commandSha256(run) },
  });
  await refresh(deps, sending);
  return sendRun(deps, sending, { recheck: true });
}

/**
 * Reject: an approver (not the requester) rejects; the requester may withdraw their own request.
 * Conditional on AWAITING_APPROVAL, so it cannot also be approved or expire.
 */
export async function rejectRun(deps: RunDeps, runId: string, person: Person): Promise<RunItem> {
  const run = await loadRun(deps, runId);
  if (run.status !== 'AWAITING_APPROVAL') return refuse(deps, run, person, 'reject', alreadyDecided(run));
  const notRejecter = await rejecterRefusal(deps.directory, run, specOf(deps.config, run), person);
  if (notRejecter) return refuse(deps, run, person, 'reject', notRejecter);
  const withdraw = isWithdrawal(run, person);
  const now = deps.clock();
  const decided = await decide(
    deps,
    run,
    person,
    withdraw ? 'withdraw' : 'reject',
    withdraw ? 'CANCELLED' : 'REJECTED',
    now,
    { set: { finishedAt: now.toISOString() }, due: null },
  );
  await tell(deps, decided, { kind: withdraw ? 'withdrawn' : 'rejected', by: person.id });
  return decided;
}

/** RUN_APPROVAL_EXPIRY: nobody approved in time (→ EXPIRED). Losing to a click is fine. */
export async function expireApproval(deps: RunDeps, run: RunItem, now: Date): Promise<RunItem | null> {
  const expired = await tryTransition<RunItem>(
    deps.store,
    moveRun(run, {
      to: 'EXPIRED',
      from: ['AWAITING_APPROVAL'],
      anyVersion: true,
      action: 'expire',
      by: TIMEOUT_ACTOR,
      at: now.toISOString(),
      set: { decidedBy: 'timeout', decidedAt: now.toISOString(), finishedAt: now.toISOString() },
      due: null,
      details: { approvalExpiresAt: run.approvalExpiresAt },
    }),
  );
  if (!expired) return null;
  await tell(deps, expired, { kind: 'expired' });
  return expired;
}
