import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import type { SlackDeps } from '../../deps';
import { ActionIds } from '../../ids';
import { blockAction, type JobSpec, type SlackBody } from '../../jobs/sources';
import { handOff } from '../handoff';
import { buttonReply, interactionPerson } from '../payload';
import { WhitelistJobs } from './jobs';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

/** The job of a Not me — revoke press: the grant the button names (the worker checks the presser). */
export function notMeJob(body: SlackBody): JobSpec | null {
  const press = blockAction(body, [ActionIds.grantNotMe]);
  if (!press) return null;
  const payload = press.payload as unknown as BlockAction;
  return {
    kind: WhitelistJobs.notMe,
    actor: interactionPerson(payload.user, payload.team?.id),
    reply: buttonReply(payload),
    args: { grantId: typeof press.value === 'string' ? press.value.slice(0, 40) : '' },
  };
}

/**
 * **Not me — revoke** on the notice that a `me` link was used. Its value only names the grant: the
 * worker re-reads it and checks that the presser is its owner and that it came from a link.
 */
export function notMeButton(deps: SlackDeps) {
  return async function onNotMe({ ack, respond }: ButtonArgs): Promise<void> {
    await ack();
    await handOff(deps, WhitelistJobs.notMe, respond);
  };
}
