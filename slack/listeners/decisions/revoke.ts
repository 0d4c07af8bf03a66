import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { type RevokeResult, revokeForPerson } from '../../../services/decisions/revoke';
import { alreadyDecided } from '../../../services/decisions/states';
import { refusalText } from '../../../services/kernel/refusal';
import type { SlackDeps } from '../../deps';
import { ActionIds } from '../../ids';
import type { JobRunner } from '../../jobs';
import { blockAction, type JobSpec, type SlackBody } from '../../jobs/sources';
import { escapeMrkdwn } from '../../mrkdwn';
import { handOff } from '../handoff';
import { buttonReply, interactionPerson, personOf } from '../payload';
import { DecisionJobs, messageOf, targetFromArgs, targetFromButton } from './common';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

/** The job of a Revoke or Revoke all press: who pressed, on which message, and what the button names. */
export function revokeJob(body: SlackBody): JobSpec | null {
  const press = blockAction(body, [ActionIds.revoke, ActionIds.revokeAll]);
  if (!press) return null;
  const payload = press.payload as unknown as BlockAction;
  return {
    kind: DecisionJobs.revoke,
    actor: interactionPerson(payload.user, payload.team?.id),
    reply: buttonReply(payload),
    args: { target: targetFromButton(press.actionId === ActionIds.revokeAll ? 'all' : 'one', press.value) },
  };
}

/**
 * Revoke (one rule) and Revoke all (every pending rule of the alert): ack at once and hand the request to
 * the worker, which checks the person, re-reads the items and revokes. Nothing here touches AWS.
 */
export function revokeButton(deps: SlackDeps) {
  return async function onRevoke({ ack, respond }: ButtonArgs): Promise<void> {
    await ack();
    await handOff(deps, DecisionJobs.revoke, respond);
  };
}

/**
 * A sentence for a revoke that did not end as asked (a revoke that worked shows on the message itself),
 * ending with its code like every refusal.
 */
export function revokeNote(result: RevokeResult): string | null {
  switch (result.outcome) {
    case 'not-pending':
    case 'lost-race':
      return refusalText({
        code: 'ALREADY_DECIDED',
        message: result.violation
          ? alreadyDecided(result.violation)
          : 'Someone else decided this rule first.',
      });
    case 'not-found':
      return refusalText({
        code: 'NOT_FOUND',
        message: 'sg-warden does not know this rule, so nothing was changed.',
      });
    case 'error':
      return refusalText({
        code: 'REVOKE_ERROR',
        message: `Revoking a rule failed on our side (${result.error ?? 'unknown error'}); the alert shows where it stands, and a rule still pending can be revoked again.`,
      });
    case 'REVOKE_RETRY':
      return refusalText({
        code: 'REVOKE_RETRY',
        message: `EC2 refused the revoke (${result.error ?? 'unknown error'}). sg-warden will try again; the alert shows progress.`,
      });
    default:
      return null;
  }
}

/** The worker side of Revoke / Revoke all. */
export const runRevokeJob: JobRunner = async (job, deps, reply) => {
  const outcome = await revokeForPerson(deps, personOf(job), targetFromArgs(job.args), messageOf(job.reply));
  if (outcome.refused) {
    await reply.ephemeral(`:no_entry_sign: ${escapeMrkdwn(refusalText(outcome.refused))}`);
    return;
  }
  const notes = [...new Set(outcome.results.map(revokeNote).filter((n): n is string => n !== null))];
  if (notes.length > 0)
    await reply.ephemeral(notes.map((n) => `:information_source: ${escapeMrkdwn(n)}`).join('\n'));
};
