import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { runFor } from '../../../services/runs/status';
import { describeError, SgWardenError } from '../../../services/shared/errors';
import { runCommandLoadingModal, runCommandModal, runCommandRefusalModal } from '../../blocks/run-command';
import type { SlackDeps } from '../../deps';
import type { JobRunner } from '../../jobs';
import { escapeMrkdwn } from '../../mrkdwn';
import { handOff } from '../handoff';
import { buttonReply, interactionActor } from '../payload';
import { personOf, RunJobs, runDeps, runIdOf } from './common';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

/**
 * Show full command: opens the view FIRST — a trigger_id works once and only for 3 seconds — then hands
 * off a job that reads the run, checks the person may see it, and fills the view with the whole command.
 */
export function showCommandButton(deps: SlackDeps) {
  return async function onShowCommand({ ack, body, action, client, respond }: ButtonArgs): Promise<void> {
    await ack();
    const runId = typeof action.value === 'string' ? action.value.slice(0, 40) : '';
    let viewId: string | undefined;
    try {
      const out = await client.views.open({
        trigger_id: body.trigger_id,
        view: runCommandLoadingModal(runId) as never,
      });
      viewId = out.view?.id;
    } catch (error) {
      deps.logger.warn({ err: describeError(error), slackUser: body.user.id }, 'command view not opened');
      await respond({
        response_type: 'ephemeral',
        replace_original: false,
        text: ':warning: Slack did not open the command in time. Press Show full command again. (VIEW_NOT_OPENED)',
      }).catch(() => {});
      return;
    }
    await handOff(
      deps,
      {
        kind: RunJobs.showCommand,
        actor: interactionActor(body.user, body.team?.id),
        reply: buttonReply(body),
        args: { runId, viewId: viewId ?? null },
      },
      respond,
    );
  };
}

/** Fills the opened view with the run's whole command and its hash — or why not (refused and audited). */
export const runShowCommandJob: JobRunner = async (job, deps, reply) => {
  const viewId = typeof job.args.viewId === 'string' ? job.args.viewId : null;
  let view: Record<string, unknown>;
  let refusal: string | null = null;
  try {
    view = runCommandModal(await runFor(runDeps(deps), runIdOf(job), personOf(job), 'show-command'));
  } catch (error) {
    if (!(error instanceof SgWardenError)) throw error;
    refusal = `${error.message} (${error.code})`;
    view = runCommandRefusalModal(escapeMrkdwn(refusal));
  }
  try {
    if (!viewId) throw new Error('no view ID');
    await (await deps.slack()).views.update({ view_id: viewId, view: view as never });
  } catch (error) {
    // The view was closed (or never opened): the person still gets an answer.
    deps.logger.info({ err: describeError(error) }, 'command view not updated');
    await reply.ephemeral(
      refusal
        ? `:no_entry_sign: ${escapeMrkdwn(refusal)}`
        : ':warning: Slack did not show the command. Press Show full command again. (VIEW_NOT_UPDATED)',
    );
  }
};
