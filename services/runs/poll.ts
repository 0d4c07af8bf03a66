import { type AuditEntry, auditEntry, SYSTEM_ACTOR } from '../kernel/audit';
import { tryTransition } from '../kernel/state';
import { plusSeconds } from '../kernel/time';
import { describeError } from '../shared/errors';
import type { CommandInvocation } from '../shared/ports';
import { type RunDeps, refresh, SSM_ACTOR, tell } from './deps';
import type { RunInvocation, RunItem } from './items';
import { giveUpAt, isUnsettled, planFinish, planInvocation } from './plan';
import { MAX_POST_ATTEMPTS, moveRun, nextPollSeconds, POLL_LEASE_SECONDS } from './states';

/**
 * RUN_POLL: follows a run in flight. Claims it (RUNNING → POLLING, a lease), asks SSM for each
 * unfinished instance, records every status change with its own audit entry, posts each finished
 * instance's output in the run's thread once, then releases it (→ RUNNING) or finishes it
 * (→ SUCCEEDED / FAILED). A stale SENDING lease becomes SEND_UNKNOWN; a stale POLLING lease is taken over.
 */
export async function pollRun(deps: RunDeps, item: RunItem, now: Date): Promise<RunItem | null> {
  const at = now.toISOString();
  if (item.status === 'SENDING') {
    const lost = await tryTransition<RunItem>(
      deps.store,
      moveRun(item, {
        to: 'SEND_UNKNOWN',
        action: 'send',
        by: SYSTEM_ACTOR,
        at,
        set: { finishedAt: at, lastError: 'sg-warden stopped while sending' },
        due: null,
        result: 'error',
        error: `sg-warden stopped while sending; look for "${item.comment}" in Run Command's history`,
      }),
    );
    if (!lost) return null;
    await tell(deps, lost, { kind: 'send-unknown' });
    return lost;
  }
  if (item.status !== 'RUNNING' && item.status !== 'POLLING') return null;
  const claimed = await tryTransition<RunItem>(
    deps.store,
    moveRun(item, {
      to: 'POLLING',
      action: 'claim',
      by: SYSTEM_ACTOR,
      at,
      due: { kind: 'RUN_POLL', at: plusSeconds(now, POLL_LEASE_SECONDS) },
      unaudited: true,
    }),
  );
  if (!claimed) return null;
  let run = claimed;
  const giveUp = giveUpAt(run);
  for (const instanceId of run.instanceIds) {
    const before = run.invocations[instanceId] ?? { status: 'Pending', final: false };
    if (!isUnsettled(before)) continue;
    let answer: CommandInvocation | null;
    try {
      answer = await deps.commands.getInvocation(run.region, run.commandId!, instanceId);
    } catch (error) {
      deps.logger.warn({ runId: run.runId, instanceId, err: describeError(error) }, 'invocation not read');
      continue;
    }
    const planned = planInvocation(before, answer, now, giveUp);
    if (!planned) continue;
    const { invocation, isFinal, next } = planned;
    if (next) run = await recordInvocation(deps, run, instanceId, before, invocation, next, now);
    if (!isFinal) continue;
    run = await postInstanceResult(deps, run, instanceId, invocation, now);
  }
  const to = planFinish(run);
  if (!to) {
    return deps.store.transition<RunItem>(
      moveRun(run, {
        to: 'RUNNING',
        action: 'release',
        by: SYSTEM_ACTOR,
        at,
        due: { kind: 'RUN_POLL', at: plusSeconds(now, nextPollSeconds(run.sentAt, now)) },
        unaudited: true,
      }),
    );
  }
  const finish = moveRun(run, {
    to,
    action: 'finish',
    by: SYSTEM_ACTOR,
    at,
    set: { finishedAt: at },
    due: null,
    details: {
      commandId: run.commandId,
      instances: Object.fromEntries(
        run.instanceIds.map((id) => [
          id,
          { status: run.invocations[id]?.status, exitCode: run.invocations[id]?.exitCode },
        ]),
      ),
    },
  });
  // The audit trail tells the run's story as RUNNING → final: POLLING is only the sweep's lease.
  const finished = await deps.store.transition<RunItem>({
    ...finish,
    audit: finish.audit && { ...finish.audit, fromState: 'RUNNING' },
  });
  await refresh(deps, finished);
  return finished;
}

/** One instance's new SSM status, recorded under the poll's lease with its own audit entry (by SSM). */
function recordInvocation(
  deps: RunDeps,
  run: RunItem,
  instanceId: string,
  before: RunInvocation,
  invocation: CommandInvocation,
  next: RunInvocation,
  now: Date,
): Promise<RunItem> {
  const move = moveRun(run, {
    to: 'POLLING',
    action: next.final ? 'result' : 'status',
    by: SSM_ACTOR,
    at: now.toISOString(),
    set: { invocations: { ...run.invocations, [instanceId]: next } },
    due: { kind: 'RUN_POLL', at: plusSeconds(now, POLL_LEASE_SECONDS) },
    unaudited: true,
  });
  // The entry is about the instance's invocation, so its states are SSM's, not the run's.
  const audit = auditEntry({ id: run.runId, type: 'run' }, SSM_ACTOR, {
    action: next.final ? 'result' : 'status',
    fromState: before.status,
    toState: invocation.status,
    result: 'ok',
    at: now.toISOString(),
    details: {
      instanceId,
      commandId: run.commandId,
      ...(invocation.statusDetails ? { statusDetails: invocation.statusDetails } : {}),
      ...(next.final
        ? {
            exitCode: invocation.exitCode,
            stdoutChars: next.stdoutChars,
            stderrChars: next.stderrChars,
            stdoutSha256: next.stdoutSha256,
            stderrSha256: next.stderrSha256,
          }
        : {}),
    },
  });
  return deps.store.transition<RunItem>({ ...move, audit });
}

/** Posts one instance's result in the run's thread; the attempt, posted or not, is recorded and audited. */
async function postInstanceResult(
  deps: RunDeps,
  run: RunItem,
  instanceId: string,
  invocation: CommandInvocation,
  now: Date,
): Promise<RunItem> {
  const current = run.invocations[instanceId]!;
  const attempts = (current.postAttempts ?? 0) + 1;
  const record = (posted: boolean, outcome: Pick<AuditEntry, 'result' | 'error' | 'details'>) =>
    deps.store.transition<RunItem>(
      moveRun(run, {
        to: 'POLLING',
        action: 'output-posted',
        by: SYSTEM_ACTOR,
        at: now.toISOString(),
        set: {
          invocations: {
            ...run.invocations,
            [instanceId]: { ...current, posted, postAttempts: attempts },
          },
        },
        due: { kind: 'RUN_POLL', at: plusSeconds(now, POLL_LEASE_SECONDS) },
        result: outcome.result,
        ...(outcome.error !== undefined ? { error: outcome.error } : {}),
        ...(outcome.details !== undefined ? { details: outcome.details } : {}),
      }),
    );
  let shown: { shownChars: number; cutChars: number };
  try {
    shown = await deps.notifier.postResult(run, instanceId, invocation);
  } catch (error) {
    deps.logger.warn(
      { runId: run.runId, instanceId, attempts, err: describeError(error) },
      'run result not posted',
    );
    return record(false, {
      result: 'error',
      error: describeError(error),
      details: { instanceId, attempts, giveUp: attempts >= MAX_POST_ATTEMPTS },
    });
  }
  return record(true, {
    result: 'ok',
    details: {
      instanceId,
      channel: run.channel,
      threadTs: run.ts,
      shownChars: shown.shownChars,
      cutChars: shown.cutChars,
    },
  });
}
