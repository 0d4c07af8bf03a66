import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { alreadyDecided, type RevokeResult, revokeForPerson } from '../../../services/decisions/decisions';
import type { SlackDeps } from '../../deps';
import type { JobRunner } from '../../jobs';
import { escapeMrkdwn } from '../../mrkdwn';
import { handOff } from '../handoff';
import { buttonReply, interactionPerson } from '../payload';
import { DecisionJobs, deciderOf, messageOf, targetFromArgs, targetFromButton } from './common';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

/**
 * Revoke (one rule) and Revoke all (every pending rule of the alert): ack at once and hand the work to
 * the worker, which checks the person, re-reads the items and revokes. Nothing here touches AWS.
 */
export function revokeButton(deps: SlackDeps, kind: 'one' | 'all') {
  return async function onRevoke({ ack, body, action, respond }: ButtonArgs): Promise<void> {
    await ack();
    await handOff(
      deps,
      {
        kind: DecisionJobs.revoke,
        actor: interactionPerson(body.user, body.team?.id),
        reply: buttonReply(body),
        args: { target: targetFromButton(kind, action.value) },
      },
      respond,
    );
  };
}

/** A sentence for a revoke that did not end as asked (a revoke that worked shows on the message itself). */
export function revokeNote(result: RevokeResult): string | null {
  switch (result.outcome) {
    case 'not-pending':
    case 'lost-race':
      return result.violation ? alreadyDecided(result.violation) : 'Someone else decided this rule first.';
    case 'not-found':
      return 'sg-warden does not know this rule, so nothing was changed.';
    case 'error':
      return `Revoking a rule failed on our side (${result.error ?? 'unknown error'}); the alert shows where it stands, and a rule still pending can be revoked again.`;
    case 'REVOKE_RETRY':
      return `EC2 refused the revoke (${result.error ?? 'unknown error'}). sg-warden will try again; the alert shows progress.`;
    default:
      return null;
  }
}

/** The worker side of Revoke / Revoke all. */
export const runRevokeJob: JobRunner = async (job, deps, reply) => {
  const outcome = await revokeForPerson(deps, deciderOf(job), targetFromArgs(job.args), messageOf(job.reply));
  if (outcome.refused) {
    await reply.ephemeral(`:no_entry_sign: ${escapeMrkdwn(outcome.refused.message)}`);
    return;
  }
  const notes = [...new Set(outcome.results.map(revokeNote).filter((n): n is string => n !== null))];
  if (notes.length > 0)
    await reply.ephemeral(notes.map((n) => `:information_source: ${escapeMrkdwn(n)}`).join('\n'));
};
