import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import type { SlackDeps } from '../../deps';
import { handOff } from '../handoff';
import { buttonReply, interactionPerson } from '../payload';
import { WhitelistJobs } from './jobs';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

/**
 * The Extend button on the expiry warning. Its value only names the grant: the worker re-reads it and
 * checks that the presser owns it and that the target still allows them and the longer duration.
 */
export function extendButton(deps: SlackDeps) {
  return async function onExtend({ ack, body, action, respond }: ButtonArgs): Promise<void> {
    await ack();
    await handOff(
      deps,
      {
        kind: WhitelistJobs.extend,
        actor: interactionPerson(body.user, body.team?.id),
        reply: buttonReply(body),
        args: { grantId: typeof action.value === 'string' ? action.value.slice(0, 40) : '' },
      },
      respond,
    );
  };
}
