import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import type { Job } from '../../../services/jobs/jobs';
import { RUN_ID } from '../../../services/runs/params';
import { approveRun, rejectRun } from '../../../services/runs/runs';
import { BadInputError } from '../../../services/shared/errors';
import type { SlackDeps } from '../../deps';
import type { JobRunner } from '../../jobs';
import { code } from '../../mrkdwn';
import { runDeps } from '../../run-notifier';
import { handOff } from '../handoff';
import { buttonReply, interactionPerson, personOf } from '../payload';
import { answerFor, RunJobs } from './common';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

/** Approve / Reject on a run's message: ack, then the worker re-reads the run and checks the person. */
export function runDecisionButton(deps: SlackDeps, kind: 'approve' | 'reject') {
  return async function onRunDecision({ ack, body, action, respond }: ButtonArgs): Promise<void> {
    await ack();
    await handOff(
      deps,
      {
        kind: kind === 'approve' ? RunJobs.approve : RunJobs.reject,
        actor: interactionPerson(body.user, body.team?.id),
        reply: buttonReply(body),
        args: { runId: typeof action.value === 'string' ? action.value.slice(0, 40) : '' },
      },
      respond,
    );
  };
}

function runIdOf(job: Job): string {
  const runId = job.args.runId;
  if (typeof runId !== 'string' || !RUN_ID.test(runId))
    throw new BadInputError('This button does not name a run.');
  return runId;
}

/** The worker side of Approve. */
export const runApproveJob: JobRunner = async (job, deps, reply) => {
  const run = await approveRun(runDeps(deps), runIdOf(job), personOf(job));
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
