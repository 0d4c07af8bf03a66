import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import type { SlackDeps } from '../../deps';
import { ActionIds } from '../../ids';
import { blockAction, type JobSpec, type SlackBody } from '../../jobs/sources';
import { handOff } from '../handoff';
import { buttonReply, interactionPerson } from '../payload';
import { WhitelistJobs } from './jobs';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

/** The job of an Extend press: who pressed, and the grant the button names. */
export function extendJob(body: SlackBody): JobSpec | null {
  const press = blockAction(body, [ActionIds.grantExtend]);
  if (!press) return null;
  const payload = press.payload as unknown as BlockAction;
  return {
    kind: WhitelistJobs.extend,
    actor: interactionPerson(payload.user, payload.team?.id),
    reply: buttonReply(payload),
    args: { grantId: typeof press.value === 'string' ? press.value.slice(0, 40) : '' },
  };
}

/**
 * The Extend button on the expiry warning. Its value only names the grant: the worker re-reads it and
 * checks that the presser owns it and that the target still allows them and the longer duration.
 */
export function extendButton(deps: SlackDeps) {
  return async function onExtend({ ack, respond }: ButtonArgs): Promise<void> {
    await ack();
    await handOff(deps, WhitelistJobs.extend, respond);
  };
}
