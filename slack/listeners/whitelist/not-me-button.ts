import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import type { SlackDeps } from '../../deps';
import { handOff } from '../handoff';
import { buttonReply, interactionActor } from '../payload';
import { WhitelistJobs } from './jobs';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

/**
 * **Not me — revoke** on the notice that a `me` link was used. Its value only names the grant: the
 * worker re-reads it and checks that the presser is its owner and that it came from a link.
 */
export function notMeButton(deps: SlackDeps) {
  return async function onNotMe({ ack, body, action, respond }: ButtonArgs): Promise<void> {
    await ack();
    await handOff(
      deps,
      {
        kind: WhitelistJobs.notMe,
        actor: interactionActor(body.user, body.team?.id),
        reply: buttonReply(body),
        args: { grantId: typeof action.value === 'string' ? action.value.slice(0, 40) : '' },
      },
      respond,
    );
  };
}
