import { keys, type StoredItem } from '../kernel/state';
import type { MessageRef } from '../shared/ports';

/**
 * A person who has opened sg-warden's Home tab (HOME#<userId>): the view Slack gave the last publish and
 * what it showed, so that a press on it is bound to it (like a press on an alert message is bound to that
 * message) and so that it is built again when one of its items changes (due HOME).
 */
export interface HomeItem extends StoredItem {
  type: 'home';
  status: 'OPEN';
  userId: string;
  createdAt: string;
  openedAt: string;
  /** Slack's ID of the published view (views.publish). */
  viewId?: string;
  publishedAt?: string;
  /** The pending violations the view shows with buttons. */
  shownViolationIds: string[];
  /** Failed publishes in a row (a later sweep tries again, a few times). */
  refreshAttempts?: number;
}

/**
 * A press on the Home tab is bound to it the way a press on an alert is bound to its message: as a
 * message reference whose channel names the person's Home (never a Slack channel ID) and whose ts is the
 * view's ID. Services check it against the stored Home item (services/decisions/requests.ts).
 */
const HOME_PREFIX = 'home:';

export function homeRef(userId: string, viewId: string): MessageRef {
  return { channel: `${HOME_PREFIX}${userId}`, ts: viewId };
}

/** The person whose Home a reference names, or null when it names a message. */
export function homeOwnerOf(ref: Pick<MessageRef, 'channel'> | null | undefined): string | null {
  return ref?.channel.startsWith(HOME_PREFIX) ? ref.channel.slice(HOME_PREFIX.length) : null;
}

/** A new Home item for a person opening the tab for the first time. */
export function newHome(userId: string, now: Date): HomeItem {
  return {
    ...keys.home(userId),
    type: 'home',
    status: 'OPEN',
    version: 1,
    userId,
    createdAt: now.toISOString(),
    openedAt: now.toISOString(),
    shownViolationIds: [],
  };
}
