import type {
  AllMiddlewareArgs,
  App,
  BlockAction,
  ButtonAction,
  SlackActionMiddlewareArgs,
  SlackViewMiddlewareArgs,
  ViewSubmitAction,
} from '@slack/bolt';
import { needOwnChange, revokeOwnChange } from '../../../services/actors/answer';
import { MAX_JUSTIFICATION } from '../../../services/decisions/states';
import { refusalText } from '../../../services/kernel/refusal';
import { describeError } from '../../../services/shared/errors';
import { decodeNeedMetadata, needModal } from '../../blocks/actor-ask';
import type { SlackDeps } from '../../deps';
import { ActionIds, BlockIds, CallbackIds, InputActionIds } from '../../ids';
import { type JobRunner, registerJobRunner } from '../../jobs';
import {
  blockAction,
  type JobSpec,
  registerJobSource,
  type SlackBody,
  viewSubmission,
} from '../../jobs/sources';
import { escapeMrkdwn } from '../../mrkdwn';
import { messageOf } from '../decisions/common';
import { revokeNote } from '../decisions/revoke';
import { handOff } from '../handoff';
import { buttonReply, interactionPerson, personOf } from '../payload';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;
type SubmitArgs = SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs;

/** Job kinds of the direct message to a change's author. */
export const ActorJobs = { revoke: 'actor.revoke', need: 'actor.need' } as const;

const alertIdOf = (value: unknown): string => (typeof value === 'string' ? value.slice(0, 100) : '');

/** The job of a "Revoke it now" press: who pressed, the DM it is on, and the alert the button names (a hint). */
export function actorRevokeJob(body: SlackBody): JobSpec | null {
  const press = blockAction(body, [ActionIds.actorRevoke]);
  if (!press) return null;
  const payload = press.payload as unknown as BlockAction;
  return {
    kind: ActorJobs.revoke,
    actor: interactionPerson(payload.user, payload.team?.id),
    reply: buttonReply(payload),
    args: { alertId: alertIdOf(press.value) },
  };
}

/** What an "I need it" submission says: the reason, the dialog's binding, or what to fix in the dialog. */
export function readNeedSubmission(view: {
  state?: { values?: ViewSubmitAction['view']['state']['values'] };
  private_metadata?: unknown;
}): { reason: string; metadata: ReturnType<typeof decodeNeedMetadata>; errors: Record<string, string> } {
  const reason = (
    view.state?.values?.[BlockIds.actorNeedReason]?.[InputActionIds.justification]?.value ?? ''
  ).trim();
  const errors: Record<string, string> = {};
  if (reason.length === 0) errors[BlockIds.actorNeedReason] = 'Say why you need it: the approvers read this.';
  else if (reason.length > MAX_JUSTIFICATION)
    errors[BlockIds.actorNeedReason] = `Keep it under ${MAX_JUSTIFICATION} characters.`;
  return { reason, metadata: decodeNeedMetadata(view.private_metadata), errors };
}

/**
 * The job of an "I need it" submission with a reason. A dialog whose binding is unreadable is still a job:
 * the worker refuses it on the record (and changes nothing).
 */
export function actorNeedJob(body: SlackBody): JobSpec | null {
  const payload = viewSubmission(body, CallbackIds.actorNeedModal) as unknown as ViewSubmitAction | null;
  if (!payload || typeof payload.view !== 'object' || payload.view === null) return null;
  const read = readNeedSubmission(payload.view);
  if (Object.keys(read.errors).length > 0) return null;
  return {
    kind: ActorJobs.need,
    actor: interactionPerson(payload.user, payload.team?.id),
    reply: read.metadata ? { channel: read.metadata.channel, messageTs: read.metadata.ts } : {},
    args: { alertId: read.metadata?.alertId ?? null, justification: read.reason },
  };
}

/** "Revoke it now": ack, and hand off; the worker checks the press against the ask it answers. */
function revokeButton(deps: SlackDeps) {
  return async function onActorRevoke({ ack, respond }: ButtonArgs): Promise<void> {
    await ack();
    await handOff(deps, ActorJobs.revoke, respond);
  };
}

/**
 * "I need it": opens the reason dialog at once (a trigger_id lives 3 seconds), bound to the direct message
 * it came from. Nothing is decided until it is submitted, and then checked in the table.
 */
function needButton(deps: SlackDeps) {
  return async function onActorNeed({ ack, body, client, respond }: ButtonArgs): Promise<void> {
    await ack();
    const reply = buttonReply(body);
    const alertId = alertIdOf(body.actions[0]?.value);
    try {
      await client.views.open({
        trigger_id: body.trigger_id,
        view: needModal({ alertId, channel: reply.channel ?? '', ts: reply.messageTs ?? '' }),
      });
    } catch (error) {
      deps.logger.warn({ err: describeError(error), slackUser: body.user.id }, 'need dialog not opened');
      await respond({
        response_type: 'ephemeral',
        replace_original: false,
        text: ':warning: Slack did not open the dialog in time. Press I need it again. (VIEW_NOT_OPENED)',
      }).catch(() => {});
    }
  };
}

/** The dialog's submission: a missing reason is answered in the dialog; else ack and hand off. */
function needSubmission(deps: SlackDeps) {
  return async function onActorNeedSubmit({ ack, view, body, client }: SubmitArgs): Promise<void> {
    const read = readNeedSubmission(view);
    if (Object.keys(read.errors).length > 0) {
      await ack({ response_action: 'errors', errors: read.errors });
      return;
    }
    await ack();
    const channel = read.metadata?.channel;
    await handOff(deps, ActorJobs.need, async (message) => {
      if (channel) await client.chat.postEphemeral({ channel, user: body.user.id, text: message.text });
    });
  };
}

const refused = (text: string) => `:no_entry_sign: ${escapeMrkdwn(text)}`;

/** The worker side of "Revoke it now". */
export const runActorRevokeJob: JobRunner = async (job, deps, reply) => {
  const alertId = typeof job.args.alertId === 'string' ? job.args.alertId : null;
  const result = await revokeOwnChange(deps, personOf(job), alertId, messageOf(job.reply));
  if (!result.ok) {
    await reply.ephemeral(refused(refusalText(result.refusal)));
    return;
  }
  const notes = [...new Set(result.revoked.map(revokeNote).filter((n): n is string => n !== null))];
  if (notes.length > 0)
    await reply.ephemeral(notes.map((n) => `:information_source: ${escapeMrkdwn(n)}`).join('\n'));
};

/** The worker side of "I need it". */
export const runActorNeedJob: JobRunner = async (job, deps, reply) => {
  const alertId = typeof job.args.alertId === 'string' ? job.args.alertId : null;
  const justification = typeof job.args.justification === 'string' ? job.args.justification : '';
  const result = await needOwnChange(deps, personOf(job), alertId, messageOf(job.reply), justification);
  if (!result.ok) await reply.ephemeral(refused(refusalText(result.refusal)));
};

/** The buttons and dialog of the direct message to a change's author. */
export function registerActorListeners(app: App, deps: SlackDeps): void {
  app.action<BlockAction<ButtonAction>>(ActionIds.actorRevoke, revokeButton(deps));
  app.action<BlockAction<ButtonAction>>(ActionIds.actorNeed, needButton(deps));
  app.view<ViewSubmitAction>(
    { callback_id: CallbackIds.actorNeedModal, type: 'view_submission' },
    needSubmission(deps),
  );
}

/** The worker's runners and their job sources. */
export function registerActorJobs(): void {
  registerJobSource(actorRevokeJob);
  registerJobSource(actorNeedJob);
  registerJobRunner(ActorJobs.revoke, runActorRevokeJob);
  registerJobRunner(ActorJobs.need, runActorNeedJob);
}
