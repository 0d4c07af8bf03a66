import type { BlockAction } from '@slack/bolt';
import type { ReplyTarget, SlackActor } from '../../services/jobs/jobs';

/** The Slack user of an interaction payload (a button press, a dialog submission). */
export function interactionActor(
  user: { id: string; username?: string; name?: string },
  teamId?: string,
): SlackActor {
  return { userId: user.id, userName: user.username ?? user.name ?? user.id, ...(teamId ? { teamId } : {}) };
}

/** The Slack user of a slash command. */
export function commandActor(command: { user_id: string; user_name?: string; team_id?: string }): SlackActor {
  return {
    userId: command.user_id,
    userName: command.user_name || command.user_id,
    ...(command.team_id ? { teamId: command.team_id } : {}),
  };
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
