import { createHash } from 'node:crypto';
import type {
  AllMiddlewareArgs,
  BlockAction,
  ButtonAction,
  SlackActionMiddlewareArgs,
  SlackViewMiddlewareArgs,
  ViewSubmitAction,
} from '@slack/bolt';
import type { Config } from '../../../services/config/config';
import { keepForPerson, prepareKeep } from '../../../services/decisions/keep';
import { type DecisionTarget, isWholeAlert } from '../../../services/decisions/requests';
import { MAX_JUSTIFICATION } from '../../../services/decisions/states';
import { homeOwnerOf } from '../../../services/home/items';
import { refusalText } from '../../../services/kernel/refusal';
import { describeError } from '../../../services/shared/errors';
import {
  decodeKeepMetadata,
  initialChoices,
  type KeepMetadata,
  keepModal,
  keepRefusalModal,
  keepSummary,
  keepTarget,
  parseDurationValue,
} from '../../blocks/keep-modal';
import type { SlackDeps } from '../../deps';
import { ActionIds, BlockIds, CallbackIds, InputActionIds } from '../../ids';
import type { JobRunner } from '../../jobs';
import { blockAction, type JobSpec, type SlackBody, viewSubmission } from '../../jobs/sources';
import { escapeMrkdwn, slackDate } from '../../mrkdwn';
import { handOff } from '../handoff';
import { buttonReply, interactionPerson, personOf } from '../payload';
import { DecisionJobs, messageOf, targetFromArgs, targetFromButton } from './common';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;
type SubmitArgs = SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs;

/** The dialog's binding: what the button named, and the message it was on (when the payload said). */
function metadataFor(target: DecisionTarget, channel?: string, ts?: string): KeepMetadata {
  return { ...target, ...(channel ? { channel } : {}), ...(ts ? { ts } : {}) };
}

/**
 * The dialog's own ID (Slack's `external_id`), derived from the press's trigger_id: the worker finds the
 * dialog the door opened from the signed request alone, never from an ID passed beside it.
 */
export function keepDialogId(triggerId: string): string {
  return `sgw-keep-${createHash('sha256').update(triggerId).digest('hex').slice(0, 40)}`;
}

/** The job of a Keep… or Keep all… press: fill in the dialog the door opened for it. */
export function keepPrepareJob(body: SlackBody): JobSpec | null {
  const press = blockAction(body, [ActionIds.keep, ActionIds.keepAll]);
  if (!press) return null;
  const payload = press.payload as unknown as BlockAction;
  if (typeof payload.trigger_id !== 'string' || payload.trigger_id === '') return null;
  const reply = buttonReply(payload);
  const target = targetFromButton(press.actionId === ActionIds.keepAll ? 'all' : 'one', press.value);
  return {
    kind: DecisionJobs.keepPrepare,
    actor: interactionPerson(payload.user, payload.team?.id),
    reply,
    args: {
      target,
      metadata: metadataFor(target, reply.channel, reply.messageTs),
      dialogId: keepDialogId(payload.trigger_id),
    },
  };
}

/**
 * Keep… (one rule) and Keep all…: opens the dialog FIRST — a trigger_id works once and only for
 * 3 seconds — then hands off a job that reads the rules and fills in the dialog (or replaces it
 * with a refusal).
 */
export function keepButton(deps: SlackDeps) {
  return async function onKeep({ ack, body, client, respond }: ButtonArgs): Promise<void> {
    await ack();
    const spec = keepPrepareJob({ type: 'interaction', payload: body as unknown as Record<string, unknown> });
    if (!spec) return;
    try {
      await client.views.open({
        trigger_id: body.trigger_id,
        view: {
          ...keepModal({
            metadata: spec.args.metadata as KeepMetadata,
            choices: initialChoices(deps.config),
            summary: null,
            config: deps.config,
          }),
          external_id: String(spec.args.dialogId),
        },
      });
    } catch (error) {
      deps.logger.warn({ err: describeError(error), slackUser: body.user.id }, 'keep dialog not opened');
      await respond({
        response_type: 'ephemeral',
        replace_original: false,
        text: ':warning: Slack did not open the Keep dialog in time. Press Keep… again. (VIEW_NOT_OPENED)',
      }).catch(() => {});
      return;
    }
    await handOff(deps, DecisionJobs.keepPrepare, respond);
  };
}

/** Fills in the opened dialog: the rules in words and exactly the durations allowed — or why not. */
export const runKeepPrepareJob: JobRunner = async (job, deps, reply) => {
  const target = targetFromArgs(job.args);
  const metadata = decodeKeepMetadata(JSON.stringify(job.args.metadata));
  const dialogId = typeof job.args.dialogId === 'string' ? job.args.dialogId : null;
  const prepared = await prepareKeep(deps, personOf(job), target, messageOf(job.reply));
  const view =
    'refusal' in prepared
      ? keepRefusalModal(escapeMrkdwn(refusalText(prepared.refusal)))
      : metadata
        ? keepModal({
            // Now that the rules were read and found on this message, the binding names their alert too.
            metadata:
              !isWholeAlert(metadata) && prepared.alertId
                ? { ...metadata, alertId: prepared.alertId }
                : metadata,
            choices: prepared.choices,
            summary: keepSummary(prepared.violations),
            config: deps.config,
            count: prepared.violations.length,
          })
        : keepRefusalModal('This dialog could not be prepared. Close it and press Keep… again.');
  try {
    if (!dialogId) throw new Error('no dialog ID');
    const client = await deps.slack();
    await client.views.update({ external_id: dialogId, view: { ...view, external_id: dialogId } });
  } catch (error) {
    // The dialog was closed (or never opened): a refusal still reaches the person.
    deps.logger.info({ err: describeError(error) }, 'keep dialog not updated');
    if ('refusal' in prepared)
      await reply.ephemeral(`:no_entry_sign: ${escapeMrkdwn(refusalText(prepared.refusal))}`);
  }
};

/**
 * What a Keep dialog submission says: the keep to do, or the errors to show in the dialog. A dialog that
 * does not say which alert message it belongs to is `unbound`: answered in the dialog, and still a job, so
 * the worker puts the refusal on the audit trail (and changes nothing).
 */
export function readKeepSubmission(
  view: { state?: { values?: ViewSubmitAction['view']['state']['values'] }; private_metadata?: unknown },
  config: Config,
):
  | {
      ok: true;
      metadata: KeepMetadata & { channel: string; ts: string };
      justification: string;
      durationSeconds: number | null;
    }
  | {
      ok: false;
      errors: Record<string, string>;
      unbound: { target: DecisionTarget | null; justification: string } | null;
    } {
  const values = view.state?.values ?? {};
  const justification = (
    values[BlockIds.keepJustification]?.[InputActionIds.justification]?.value ?? ''
  ).trim();
  const rawDuration = values[BlockIds.keepDuration]?.[InputActionIds.duration]?.selected_option?.value;
  const duration = parseDurationValue(rawDuration, config);
  const metadata = decodeKeepMetadata(view.private_metadata);
  const channel = metadata?.channel;
  const ts = metadata?.ts;
  const errors: Record<string, string> = {};
  if (!metadata || !channel || !ts)
    errors[BlockIds.keepJustification] =
      'This dialog does not say which alert it belongs to, so nothing was kept. Close it and press Keep… on the alert again.';
  else if (justification.length === 0)
    errors[BlockIds.keepJustification] = 'Say why this rule must stay open: it goes into the audit trail.';
  else if (justification.length > MAX_JUSTIFICATION)
    errors[BlockIds.keepJustification] = `Keep it under ${MAX_JUSTIFICATION} characters.`;
  if (duration === undefined) errors[BlockIds.keepDuration] = 'Pick one of the offered durations.';
  if (!metadata || !channel || !ts)
    return { ok: false, errors, unbound: { target: metadata ? keepTarget(metadata) : null, justification } };
  if (duration === undefined || Object.keys(errors).length > 0) return { ok: false, errors, unbound: null };
  return { ok: true, metadata: { ...metadata, channel, ts }, justification, durationSeconds: duration };
}

/** The job of a Keep dialog submission: a valid one, or an unbound one to refuse on the record. */
export function keepJob(body: SlackBody, config: Config): JobSpec | null {
  const payload = viewSubmission(body, CallbackIds.keepModal) as unknown as ViewSubmitAction | null;
  if (!payload || typeof payload.view !== 'object' || payload.view === null) return null;
  const read = readKeepSubmission(payload.view, config);
  const actor = interactionPerson(payload.user, payload.team?.id);
  if (!read.ok) {
    if (!read.unbound) return null;
    return {
      kind: DecisionJobs.keep,
      actor,
      reply: {},
      args: { target: read.unbound.target, justification: read.unbound.justification, durationSeconds: null },
    };
  }
  const { metadata } = read;
  return {
    kind: DecisionJobs.keep,
    actor,
    reply: { channel: metadata.channel, messageTs: metadata.ts },
    args: {
      target: keepTarget(metadata),
      justification: read.justification,
      durationSeconds: read.durationSeconds,
    },
  };
}

/**
 * The dialog's submission: validates inline (empty justification, a duration we did not offer, a
 * dialog we did not write), acks, and hands off the keep. Refusals come back as ephemeral messages.
 */
export function keepSubmission(deps: SlackDeps) {
  return async function onKeepSubmit({ ack, body, view, client }: SubmitArgs): Promise<void> {
    const read = readKeepSubmission(view, deps.config);
    if (!read.ok) {
      await ack({ response_action: 'errors', errors: read.errors });
      // Unbound: refused on the record too. The worker refuses it (nothing moves) and audits who tried.
      if (read.unbound) await handOff(deps, DecisionJobs.keep, async () => {});
      return;
    }
    await ack();
    const channel = read.metadata.channel;
    await handOff(deps, DecisionJobs.keep, (message) =>
      // A dialog opened from the Home tab has no channel to answer in: a message from the app.
      homeOwnerOf({ channel })
        ? client.chat.postMessage({ channel: body.user.id, text: message.text })
        : client.chat.postEphemeral({ channel, user: body.user.id, text: message.text }),
    );
  };
}

/** The worker side of the Keep dialog. */
export const runKeepJob: JobRunner = async (job, deps, reply) => {
  // A dialog that named nothing readable is still refused (and audited) by the service.
  const target = job.args.target === null ? null : targetFromArgs(job.args);
  const justification = typeof job.args.justification === 'string' ? job.args.justification : '';
  const duration = job.args.durationSeconds;
  const durationSeconds = typeof duration === 'number' ? duration : null;
  const outcome = await keepForPerson(
    deps,
    personOf(job),
    target,
    messageOf(job.reply),
    justification,
    durationSeconds,
  );
  if (outcome.refused) {
    await reply.ephemeral(`:no_entry_sign: ${escapeMrkdwn(refusalText(outcome.refused))}`);
    return;
  }
  const kept = outcome.results.filter((r) => r.ok);
  const refused = outcome.results.flatMap((r) => (r.ok ? [] : [refusalText(r.refusal)]));
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
