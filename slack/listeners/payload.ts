import type { BlockAction } from '@slack/bolt';
import { homeRef } from '../../services/home/items';
import type { Job, JobActor, ReplyTarget } from '../../services/jobs/jobs';
import type { Person } from '../../services/shared/people';

/** A person as a Slack payload names them, with the workspace it came from (for the team guard). */
export type PayloadPerson = JobActor;

/** The person of an interaction payload (a button press, a dialog submission). */
export function interactionPerson(
  user: { id: string; username?: string; name?: string },
  teamId?: string,
): PayloadPerson {
  return { id: user.id, name: user.username ?? user.name ?? user.id, ...(teamId ? { teamId } : {}) };
}

/** The person of a slash command. */
export function commandPerson(command: {
  user_id: string;
  user_name?: string;
  team_id?: string;
}): PayloadPerson {
  return {
    id: command.user_id,
    name: command.user_name || command.user_id,
    ...(command.team_id ? { teamId: command.team_id } : {}),
  };
}

/** The person behind a job, as the signed Slack payload named them. */
export function personOf(job: Job): Person {
  return { id: job.actor.id, name: job.actor.name || job.actor.id };
}

/**
 * Where to answer a button press: the message it is on (channel and ts) and the interaction's response_url;
 * on the Home tab (no message, no response_url) the person's Home (services/home/items.ts homeRef).
 */
export function buttonReply(body: BlockAction): ReplyTarget {
  // A press on the person's Home tab: bound to that view as a press on an alert is to its message.
  const view = body.view as { id?: unknown; type?: unknown } | undefined;
  if (body.container?.type === 'view' && view?.type === 'home' && typeof view.id === 'string') {
    const home = homeRef(body.user.id, view.id);
    return { channel: home.channel, messageTs: home.ts };
  }
  const channel = body.channel?.id ?? (body.container?.channel_id as string | undefined);
  const messageTs = body.message?.ts ?? (body.container?.message_ts as string | undefined);
  return {
    ...(channel ? { channel } : {}),
    ...(messageTs ? { messageTs } : {}),
    responseUrl: body.response_url,
  };
}
