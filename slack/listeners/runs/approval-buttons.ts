import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { approveRun, rejectRun } from '../../../services/runs/approval';
import type { SlackDeps } from '../../deps';
import { ActionIds } from '../../ids';
import type { JobRunner } from '../../jobs';
import { blockAction, type JobSpec, type SlackBody } from '../../jobs/sources';
import { code } from '../../mrkdwn';
import { handOff } from '../handoff';
import { buttonReply, interactionPerson, personOf } from '../payload';
import { answerFor, RunJobs, runDeps, runIdOf } from './common';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

/**
 * What an Approve / Reject button names: the run, and (Approve) the first hex digits of the hash of the
 * command its message showed (`r-… <hash>`), which approving checks against the run as stored.
 */
export function runButtonValue(value: unknown): { runId: string; commandHash: string | null } {
  const [runId = '', commandHash] = (typeof value === 'string' ? value.slice(0, 100) : '').split(' ', 2);
  return { runId: runId.slice(0, 40), commandHash: commandHash ? commandHash.slice(0, 64) : null };
}

/** The job of an Approve or Reject press: who pressed, the run the button names and (Approve) its hash. */
export function runDecisionJob(body: SlackBody): JobSpec | null {
  const press = blockAction(body, [ActionIds.runApprove, ActionIds.runReject]);
  if (!press) return null;
  const payload = press.payload as unknown as BlockAction;
  return {
    kind: press.actionId === ActionIds.runApprove ? RunJobs.approve : RunJobs.reject,
    actor: interactionPerson(payload.user, payload.team?.id),
    reply: buttonReply(payload),
    args: runButtonValue(press.value),
  };
}

/** Approve / Reject on a run's message: ack, then the worker re-reads the run and checks the person. */
export function runDecisionButton(deps: SlackDeps, kind: 'approve' | 'reject') {
  return async function onRunDecision({ ack, respond }: ButtonArgs): Promise<void> {
    await ack();
    await handOff(deps, kind === 'approve' ? RunJobs.approve : RunJobs.reject, respond);
  };
}

/** The worker side of Approve: only the command whose hash the button carries. */
export const runApproveJob: JobRunner = async (job, deps, reply) => {
  const commandHash = typeof job.args.commandHash === 'string' ? job.args.commandHash : null;
  const run = await approveRun(runDeps(deps), runIdOf(job), personOf(job), commandHash);
  await reply.ephemeral(`:white_check_mark: You approved run ${code(run.runId)}. ${answerFor(run)}`);
};

/** The worker side of Reject (or the requester withdrawing). */
export const runRejectJob: JobRunner = async (job, deps, reply) => {
  const run = await rejectRun(runDeps(deps), runIdOf(job), personOf(job));
  await reply.ephemeral(
    run.status === 'CANCELLED'
      ? `You withdrew run ${code(run.runId)}; nothing was sent.`
      : `:no_entry: You rejected run ${code(run.runId)}; nothing was sent.`,
  );
};
