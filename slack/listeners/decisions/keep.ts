import type {
  AllMiddlewareArgs,
  BlockAction,
  ButtonAction,
  SlackActionMiddlewareArgs,
  SlackViewMiddlewareArgs,
  ViewSubmitAction,
} from '@slack/bolt';
import {
  type DecisionTarget,
  keepForPerson,
  MAX_JUSTIFICATION,
  prepareKeep,
} from '../../../services/decisions/decisions';
import { describeError } from '../../../services/shared/errors';
import {
  decodeKeepMetadata,
  initialChoices,
  type KeepMetadata,
  keepModal,
  keepRefusalModal,
  keepSummary,
  parseDurationValue,
} from '../../blocks/keep-modal';
import type { SlackDeps } from '../../deps';
import { BlockIds, InputActionIds } from '../../ids';
import type { JobRunner } from '../../jobs';
import { escapeMrkdwn, slackDate } from '../../mrkdwn';
import { handOff } from '../handoff';
import { buttonReply, interactionPerson } from '../payload';
import { DecisionJobs, deciderOf, messageOf, targetFromArgs, targetFromButton } from './common';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;
type SubmitArgs = SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs;

function metadataFor(target: DecisionTarget, channel: string, ts: string): KeepMetadata {
  return { ...target, channel, ts };
}

/**
 * Keep… (one rule) and Keep all…: opens the dialog FIRST — a trigger_id works once and only for
 * 3 seconds — then hands off a job that reads the rules and fills in the dialog (or replaces it
 * with a refusal).
 */
export function keepButton(deps: SlackDeps, kind: 'one' | 'all') {
  return async function onKeep({ ack, body, action, client, respond }: ButtonArgs): Promise<void> {
    await ack();
    const { channel = '', messageTs: ts = '' } = buttonReply(body);
    const target = targetFromButton(kind, action.value);
    const metadata = metadataFor(target, channel, ts);
    let viewId: string | undefined;
    try {
      const out = await client.views.open({
        trigger_id: body.trigger_id,
        view: keepModal({
          metadata,
          choices: initialChoices(deps.config),
          summary: null,
          config: deps.config,
        }),
      });
      viewId = out.view?.id;
    } catch (error) {
      deps.logger.warn({ err: describeError(error), slackUser: body.user.id }, 'keep dialog not opened');
      await respond({
        response_type: 'ephemeral',
        replace_original: false,
        text: ':warning: Slack did not open the Keep dialog in time. Press Keep… again. (VIEW_NOT_OPENED)',
      }).catch(() => {});
      return;
    }
    await handOff(
      deps,
      {
        kind: DecisionJobs.keepPrepare,
        actor: interactionPerson(body.user, body.team?.id),
        reply: { channel, messageTs: ts, responseUrl: body.response_url },
        args: { target, viewId: viewId ?? null, metadata },
      },
      respond,
    );
  };
}

/** Fills in the opened dialog: the rules in words and exactly the durations allowed — or why not. */
export const runKeepPrepareJob: JobRunner = async (job, deps, reply) => {
  const target = targetFromArgs(job.args);
  const metadata = decodeKeepMetadata(JSON.stringify(job.args.metadata));
  const viewId = typeof job.args.viewId === 'string' ? job.args.viewId : null;
  const prepared = await prepareKeep(deps, deciderOf(job), target, messageOf(job.reply));
  const view =
    'refusal' in prepared
      ? keepRefusalModal(escapeMrkdwn(prepared.refusal.message))
      : metadata
        ? keepModal({
            metadata,
            choices: prepared.choices,
            summary: keepSummary(prepared.violations),
            config: deps.config,
            count: prepared.violations.length,
          })
        : keepRefusalModal('This dialog could not be prepared. Close it and press Keep… again.');
  try {
    if (!viewId) throw new Error('no view ID');
    const client = await deps.slack();
    await client.views.update({ view_id: viewId, view });
  } catch (error) {
    // The dialog was closed (or never opened): a refusal still reaches the person.
    deps.logger.info({ err: describeError(error) }, 'keep dialog not updated');
    if ('refusal' in prepared)
      await reply.ephemeral(`:no_entry_sign: ${escapeMrkdwn(prepared.refusal.message)}`);
  }
};

/**
 * The dialog's submission: validates inline (empty justification, a duration we did not offer, a
 * dialog we did not write), acks, and hands off the keep. Refusals come back as ephemeral messages.
 */
export function keepSubmission(deps: SlackDeps) {
  return async function onKeepSubmit({ ack, body, view, client }: SubmitArgs): Promise<void> {
    const values = view.state.values;
    const justification = (
      values[BlockIds.keepJustification]?.[InputActionIds.justification]?.value ?? ''
    ).trim();
    const rawDuration = values[BlockIds.keepDuration]?.[InputActionIds.duration]?.selected_option?.value;
    const duration = parseDurationValue(rawDuration, deps.config);
    const metadata = decodeKeepMetadata(view.private_metadata);
    const errors: Record<string, string> = {};
    if (!metadata)
      errors[BlockIds.keepJustification] = 'This dialog is out of date. Close it and press Keep… again.';
    else if (justification.length === 0)
      errors[BlockIds.keepJustification] = 'Say why this rule must stay open: it goes into the audit trail.';
    else if (justification.length > MAX_JUSTIFICATION)
      errors[BlockIds.keepJustification] = `Keep it under ${MAX_JUSTIFICATION} characters.`;
    if (duration === undefined) errors[BlockIds.keepDuration] = 'Pick one of the offered durations.';
    if (!metadata || Object.keys(errors).length > 0) {
      await ack({ response_action: 'errors', errors });
      return;
    }
    await ack();
    const actor = interactionPerson(body.user, body.team?.id);
    const target: DecisionTarget =
      'alertId' in metadata ? { alertId: metadata.alertId } : { violationIds: metadata.violationIds };
    await handOff(
      deps,
      {
        kind: DecisionJobs.keep,
        actor,
        reply: { channel: metadata.channel, messageTs: metadata.ts },
        args: { target, justification, durationSeconds: duration ?? null },
      },
      (message) =>
        client.chat.postEphemeral({ channel: metadata.channel, user: actor.userId, text: message.text }),
    );
  };
}

/** The worker side of the Keep dialog. */
export const runKeepJob: JobRunner = async (job, deps, reply) => {
  const target = targetFromArgs(job.args);
  const justification = typeof job.args.justification === 'string' ? job.args.justification : '';
  const duration = job.args.durationSeconds;
  const durationSeconds = typeof duration === 'number' ? duration : null;
  const outcome = await keepForPerson(
    deps,
    deciderOf(job),
    target,
    messageOf(job.reply),
    justification,
    durationSeconds,
  );
  if (outcome.refused) {
    await reply.ephemeral(`:no_entry_sign: ${escapeMrkdwn(outcome.refused.message)}`);
    return;
  }
  const kept = outcome.results.filter((r) => r.ok);
  const refused = outcome.results.flatMap((r) => (r.ok ? [] : [r.refusal.message]));
  const lines: string[] = [];
  if (kept.length > 0) {
    const until = kept[0]!.exception.expiresAt;
    lines.push(
      `:shield: Kept ${kept.length === 1 ? 'the rule' : `${kept.length} rules`} ${until ? `until ${slackDate(until)}` : 'permanently'}. sg-warden will not alert on ${kept.length === 1 ? 'it' : 'them'} again${until ? ' until then, and will ask again when it runs out' : ''}.`,
    );
  }
  for (const message of new Set(refused)) lines.push(`:no_entry_sign: ${escapeMrkdwn(message)}`);
  await reply.ephemeral(lines.join('\n'));
};
