import type { People } from '../config/config';

/**
 * A Slack user, as a verified Slack payload names them: the ID (checked against config and Slack user
 * groups before it is allowed anything) and the name shown in messages and the audit trail. The one name
 * for this across layers (it was also Requester, RunActor, SlackActor and the deciding Person).
 */
export interface Person {
  id: string;
  name: string;
}

/** Looks up who is in a Slack user group. */
export interface Directory {
  membersOf(userGroupId: string): Promise<string[]>;
}

/** Looks up who is in a Slack channel (the alert channel's members may read the status). */
export interface ChannelDirectory {
  channelMembers(channelId: string): Promise<string[]>;
}

/** True when the user is listed by ID or is a member of a listed user group (an empty list names nobody). */
export async function isListed(people: People, userId: string, directory: Directory): Promise<boolean> {
  if (people.users.includes(userId)) return true;
  for (const group of people.userGroups) {
    try {
      if ((await directory.membersOf(group)).includes(userId)) return true;
    } catch {
      // A group we cannot read grants nothing.
    }
  }
  return false;
}

/**
 * True when the user may act: listed by ID, or a member of a listed user group. An empty list
 * (no users, no groups) means anyone who can see the button — the alert channel's members.
 */
export async function isAllowed(people: People, userId: string, directory: Directory): Promise<boolean> {
  if (people.users.length === 0 && people.userGroups.length === 0) return true;
  return isListed(people, userId, directory);
}
