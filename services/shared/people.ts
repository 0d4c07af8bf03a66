import type { People } from '../config/config';

/** A Slack user, as the verified Slack payload names them (checked against config, never trusted for more). */
export interface Person {
  id: string;
  name: string;
}

/** Looks up who is in a Slack user group. */
export interface Directory {
  membersOf(userGroupId: string): Promise<string[]>;
}

/**
 * True when the user may act: listed by ID, or a member of a listed user group. An empty list
 * (no users, no groups) means anyone who can see the button — the alert channel's members.
 */
export async function isAllowed(people: People, userId: string, directory: Directory): Promise<boolean> {
  if (people.users.length === 0 && people.userGroups.length === 0) return true;
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

/** A Slack user as the verified Slack payload names them: the ID decides, the name is for people. */
export interface Person {
  id: string;
  name: string;
}
