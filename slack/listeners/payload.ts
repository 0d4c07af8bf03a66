import type { BlockAction } from '@slack/bolt';
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

/** Where to answer a button press: the message it is on (channel and ts) and the interaction's response_url. */
export function buttonReply(body: BlockAction): ReplyTarget {
  const channel = body.channel?.id ?? (body.container?.channel_id as string | undefined);
  const messageTs = body.message?.ts ?? (body.container?.message_ts as string | undefined);
  return {
    ...(channel ? { channel } : {}),
    ...(messageTs ? { messageTs } : {}),
    responseUrl: body.response_url,
  };
}
