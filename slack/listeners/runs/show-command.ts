import { createHash } from 'node:crypto';
import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import type { ModalView } from '@slack/types';
import { refusalText } from '../../../services/kernel/refusal';
import { runFor } from '../../../services/runs/status';
import { describeError, SgWardenError } from '../../../services/shared/errors';
import { runCommandLoadingModal, runCommandModal, runCommandRefusalModal } from '../../blocks/run-command';
import type { SlackDeps } from '../../deps';
import { ActionIds } from '../../ids';
import type { JobRunner } from '../../jobs';
import { blockAction, type JobSpec, type SlackBody } from '../../jobs/sources';
import { escapeMrkdwn } from '../../mrkdwn';
import { handOff } from '../handoff';
import { buttonReply, interactionPerson, personOf } from '../payload';
import { RunJobs, runDeps, runIdOf } from './common';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

/**
 * The view's own ID (Slack's `external_id`), derived from the press's trigger_id: the worker finds the
 * view the door opened from the signed request alone, never from an ID passed beside it.
 */
export function commandViewId(triggerId: string): string {
  return `sgw-cmd-${createHash('sha256').update(triggerId).digest('hex').slice(0, 40)}`;
}

/** The job of a Show full command press: the run the button names, and the view the door opened. */
export function showCommandJob(body: SlackBody): JobSpec | null {
  const press = blockAction(body, [ActionIds.runShowCommand]);
  if (!press) return null;
  const payload = press.payload as unknown as BlockAction;
  if (typeof payload.trigger_id !== 'string' || payload.trigger_id === '') return null;
  return {
    kind: RunJobs.showCommand,
    actor: interactionPerson(payload.user, payload.team?.id),
    reply: buttonReply(payload),
    args: {
      runId: typeof press.value === 'string' ? press.value.slice(0, 40) : '',
      viewId: commandViewId(payload.trigger_id),
    },
  };
}

/**
 * Show full command: opens the view FIRST — a trigger_id works once and only for 3 seconds — then hands
 * off a job that reads the run, checks the person may see it, and fills the view with the whole command.
 */
export function showCommandButton(deps: SlackDeps) {
  return async function onShowCommand({ ack, body, client, respond }: ButtonArgs): Promise<void> {
    await ack();
    const spec = showCommandJob({ type: 'interaction', payload: body as unknown as Record<string, unknown> });
    if (!spec) return;
    const viewId = String(spec.args.viewId);
    try {
      await client.views.open({
        trigger_id: body.trigger_id,
        view: { ...runCommandLoadingModal(String(spec.args.runId)), external_id: viewId },
      });
    } catch (error) {
      deps.logger.warn({ err: describeError(error), slackUser: body.user.id }, 'command view not opened');
      await respond({
        response_type: 'ephemeral',
        replace_original: false,
        text: ':warning: Slack did not open the command in time. Press Show full command again. (VIEW_NOT_OPENED)',
      }).catch(() => {});
      return;
    }
    await handOff(deps, RunJobs.showCommand, respond);
  };
}

/** Fills the opened view with the run's whole command and its hash — or why not (refused and audited). */
export const runShowCommandJob: JobRunner = async (job, deps, reply) => {
  const viewId = typeof job.args.viewId === 'string' ? job.args.viewId : null;
  let view: ModalView;
  let refusal: string | null = null;
  try {
    view = runCommandModal(await runFor(runDeps(deps), runIdOf(job), personOf(job), 'show-command'));
  } catch (error) {
    if (!(error instanceof SgWardenError)) throw error;
    refusal = refusalText({ code: error.code, message: error.message });
    view = runCommandRefusalModal(escapeMrkdwn(refusal));
  }
  try {
    if (!viewId) throw new Error('no view ID');
    await (await deps.slack()).views.update({
      external_id: viewId,
      view: { ...view, external_id: viewId },
    });
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
