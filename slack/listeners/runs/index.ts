import type {
  AllMiddlewareArgs,
  App,
  BlockAction,
  ButtonAction,
  SlackActionMiddlewareArgs,
  SlackCommandMiddlewareArgs,
} from '@slack/bolt';
import { BadInputError } from '../../../services/errors';
import type { Job } from '../../../services/jobs';
import { RUN_ID } from '../../../services/run-params';
import {
  approveRun,
  listRunbooks,
  parseRequest,
  type RunActor,
  rejectRun,
  requestRun,
  runStatus,
  specFor,
} from '../../../services/runs';
import type { RunItem } from '../../../services/store';
import { runbookListText, runHelpText, runStatusText } from '../../blocks/run';
import type { SlackDeps } from '../../deps';
import { ActionIds } from '../../ids';
import { type JobRunner, registerJobRunner } from '../../jobs';
import { code, escapeMrkdwn } from '../../mrkdwn';
import { runDeps } from '../../run-notifier';
import { commandActor, interactionActor } from '../actor';
import { handOff } from '../handoff';

/** Job kinds `/sg-run` hands to the worker. */
export const RunJobs = {
  command: 'run.command',
  approve: 'run.approve',
  reject: 'run.reject',
} as const;

type CommandArgs = SlackCommandMiddlewareArgs & AllMiddlewareArgs;
type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

function actorOf(job: Job): RunActor {
  return { userId: job.actor.userId, userName: job.actor.userName || job.actor.userId };
}

/**
 * `/sg-run …`: `help` is answered at once; everything else is acked and handed to the worker, which
 * parses, checks and audits (so a refused attempt is on record) and answers through response_url.
 */
export function sgRunCommand(deps: SlackDeps) {
  return async function onSgRun({ command, ack, respond }: CommandArgs): Promise<void> {
    const text = command.text ?? '';
    if (text.trim() === '' || text.trim() === 'help') {
      await ack({ response_type: 'ephemeral', text: runHelpText() });
      return;
    }
    await ack();
    await handOff(
      deps,
      {
        kind: RunJobs.command,
        actor: commandActor(command),
        reply: { channel: command.channel_id, responseUrl: command.response_url },
        args: { text, channel: command.channel_id },
      },
      respond,
    );
  };
}

/** Approve / Reject on a run's message: ack, then the worker re-reads the run and checks the person. */
export function runDecisionButton(deps: SlackDeps, kind: 'approve' | 'reject') {
  return async function onRunDecision({ ack, body, action, respond }: ButtonArgs): Promise<void> {
    await ack();
    await handOff(
      deps,
      {
        kind: kind === 'approve' ? RunJobs.approve : RunJobs.reject,
        actor: interactionActor(body.user, body.team?.id),
        reply: {
          channel: body.channel?.id ?? (body.container.channel_id as string | undefined),
          messageTs: body.message?.ts ?? (body.container.message_ts as string | undefined),
          responseUrl: body.response_url,
        },
        args: { runId: typeof action.value === 'string' ? action.value.slice(0, 40) : '' },
      },
      respond,
    );
  };
}

function approversOf(deps: SlackDeps, run: RunItem) {
  return specFor(deps.config, run.adHoc ? 'adhoc' : run.runbook)?.approvers ?? null;
}

function answerFor(run: RunItem): string {
  const count = `${run.instanceIds.length} instance${run.instanceIds.length === 1 ? '' : 's'}`;
  switch (run.status) {
    case 'AWAITING_APPROVAL':
      return `:raised_hand: Run ${code(run.runId)} (${count}) waits for a second person's approval; the request is posted in this channel.`;
    case 'RUNNING':
    case 'POLLING':
      return `:rocket: Run ${code(run.runId)} was sent to ${count}; results will appear in the thread of its message.`;
    case 'SEND_FAILED':
      return `:x: Run ${code(run.runId)} was not sent: ${escapeMrkdwn(run.lastError ?? 'SSM refused it')}`;
    default:
      return `Run ${code(run.runId)}: ${run.status}`;
  }
}

/** The worker side of `/sg-run …`. */
export const runCommandJob: JobRunner = async (job, deps, reply) => {
  const actor = actorOf(job);
  const channel = typeof job.args.channel === 'string' ? job.args.channel : (job.reply.channel ?? '');
  const services = runDeps(deps);
  const request = await parseRequest(services, actor, String(job.args.text ?? ''), channel);
  switch (request.kind) {
    case 'help':
      await reply.ephemeral(runHelpText());
      return;
    case 'list':
      await reply.ephemeral(runbookListText(await listRunbooks(services, actor)));
      return;
    case 'status': {
      const run = await runStatus(services, request.runId, actor);
      await reply.ephemeral(runStatusText(run, approversOf(deps, run)));
      return;
    }
    default: {
      const run = await requestRun(services, actor, request, channel);
      await reply.ephemeral(answerFor(run));
    }
  }
};

function runIdOf(job: Job): string {
  const runId = job.args.runId;
  if (typeof runId !== 'string' || !RUN_ID.test(runId))
    throw new BadInputError('This button does not name a run.');
  return runId;
}

/** The worker side of Approve. */
export const runApproveJob: JobRunner = async (job, deps, reply) => {
  const run = await approveRun(runDeps(deps), runIdOf(job), actorOf(job));
  await reply.ephemeral(`:white_check_mark: You approved run ${code(run.runId)}. ${answerFor(run)}`);
};

/** The worker side of Reject (or the requester withdrawing). */
export const runRejectJob: JobRunner = async (job, deps, reply) => {
  const run = await rejectRun(runDeps(deps), runIdOf(job), actorOf(job));
  await reply.ephemeral(
    run.status === 'CANCELLED'
      ? `You withdrew run ${code(run.runId)}; nothing was sent.`
      : `:no_entry: You rejected run ${code(run.runId)}; nothing was sent.`,
  );
};

/** The worker's runners for `/sg-run` (the worker Lambda registers them without building Bolt). */
export function registerRunJobs(): void {
  registerJobRunner(RunJobs.command, runCommandJob);
  registerJobRunner(RunJobs.approve, runApproveJob);
  registerJobRunner(RunJobs.reject, runRejectJob);
}

/** `/sg-run`, its Approve / Reject buttons, and the jobs behind them. */
export function registerRunListeners(app: App, deps: SlackDeps): void {
  app.command('/sg-run', sgRunCommand(deps));
  app.action<BlockAction<ButtonAction>>(ActionIds.runApprove, runDecisionButton(deps, 'approve'));
  app.action<BlockAction<ButtonAction>>(ActionIds.runReject, runDecisionButton(deps, 'reject'));
  registerRunJobs();
}
