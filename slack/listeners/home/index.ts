import type {
  AllMiddlewareArgs,
  App,
  BlockAction,
  ButtonAction,
  SlackActionMiddlewareArgs,
} from '@slack/bolt';
import { openHome } from '../../../services/home/refresh';
import type { SlackDeps } from '../../deps';
import { SlackHomePublisher } from '../../home/publisher';
import { ActionIds } from '../../ids';
import { type JobRunner, registerJobRunner } from '../../jobs';
import { blockAction, type JobSpec, registerJobSource, type SlackBody } from '../../jobs/sources';
import { handOff } from '../handoff';
import { buttonReply, interactionPerson } from '../payload';
import { WhitelistJobs } from '../whitelist/jobs';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

/** Job kinds of the Home tab. */
export const HomeJobs = { open: 'home.open' } as const;

const USER_ID = /^[UW][A-Z0-9]{2,}$/;

/**
 * The job of an `app_home_opened` event (Events API, signed like every request): publish the person's
 * own Home. Only the Home tab (not the Messages tab), only for a user ID Slack named.
 */
export function homeOpenedJob(body: SlackBody): JobSpec | null {
  if (body.type !== 'interaction' || body.payload.type !== 'event_callback') return null;
  const event = body.payload.event as { type?: unknown; user?: unknown; tab?: unknown } | undefined;
  if (event?.type !== 'app_home_opened' || event.tab !== 'home') return null;
  if (typeof event.user !== 'string' || !USER_ID.test(event.user)) return null;
  const teamId = typeof body.payload.team_id === 'string' ? body.payload.team_id : undefined;
  return {
    kind: HomeJobs.open,
    actor: { id: event.user, name: event.user, ...(teamId ? { teamId } : {}) },
    reply: {},
    args: {},
  };
}

/** The job of a grant's Revoke on the Home tab: `/sg-whitelist revoke <grant>`, with the same checks. */
export function grantRevokeJob(body: SlackBody): JobSpec | null {
  const press = blockAction(body, [ActionIds.grantRevoke]);
  if (!press) return null;
  const payload = press.payload as unknown as BlockAction;
  return {
    kind: WhitelistJobs.revoke,
    actor: interactionPerson(payload.user, payload.team?.id),
    reply: buttonReply(payload),
    args: { grantId: typeof press.value === 'string' ? press.value.slice(0, 40) : '' },
  };
}

/** Publishes the person's Home tab (the worker side of `app_home_opened`). */
export const runHomeOpenJob: JobRunner = async (job, deps) => {
  await openHome(deps, new SlackHomePublisher({ client: deps.slack }), job.actor.id);
};

/**
 * The Home tab: `app_home_opened` is acknowledged at once (Bolt answers the event when the listener
 * returns) and the view is built by the worker; a grant's Revoke there is `/sg-whitelist revoke`. The
 * alert, Extend and run buttons on the Home are the channel's own listeners.
 */
export function registerHomeListeners(app: App, deps: SlackDeps): void {
  app.event('app_home_opened', async ({ event }) => {
    if (event.tab !== 'home') return;
    await handOff(deps, HomeJobs.open, async () => {});
  });
  app.action<BlockAction<ButtonAction>>(ActionIds.grantRevoke, async ({ ack, respond }: ButtonArgs) => {
    await ack();
    await handOff(deps, WhitelistJobs.revoke, respond);
  });
  registerHomeJobs();
}

/** The worker's runners and job sources of the Home tab. */
export function registerHomeJobs(): void {
  registerJobSource(homeOpenedJob);
  registerJobSource(grantRevokeJob);
  registerJobRunner(HomeJobs.open, runHomeOpenJob);
}
