import type { WebClient } from '@slack/web-api';
import type { SlackUserLookup } from '../services/actors/ports';
import type { ChannelDirectory, Directory } from '../services/shared/people';

/** How long a user found by e-mail is remembered (per container), and how long "nobody has it". */
const EMAIL_HIT_MS = 3_600_000;
const EMAIL_MISS_MS = 600_000;

/** Pages of conversations.members read for one channel (1,000 members a page). */
const MAX_MEMBER_PAGES = 20;

/**
 * Slack user-group membership through usergroups.users.list (cached a minute per container), and channel
 * membership through conversations.members (cached five minutes: who may read the status changes rarely,
 * and each read of a large channel is several calls), and users by e-mail through users.lookupByEmail
 * (cached per container: an hour for a user found, ten minutes for an address nobody has; the method is
 * Tier 3, and a burst of changes by one person looks them up once). A failed read is not cached.
 */
export class SlackDirectory implements Directory, ChannelDirectory, SlackUserLookup {
  private readonly cache = new Map<string, { at: number; members: Promise<string[]> }>();
  private readonly emails = new Map<string, { until: number; user: Promise<string | null> }>();
  private readonly channels = new Map<string, { at: number; members: Promise<string[]> }>();
  private readonly client: () => Promise<WebClient>;
  private readonly ttlMs: number;
  private readonly channelTtlMs: number;

  constructor(options: { client: () => Promise<WebClient>; ttlMs?: number; channelTtlMs?: number }) {
    this.client = options.client;
    this.ttlMs = options.ttlMs ?? 60_000;
    this.channelTtlMs = options.channelTtlMs ?? 300_000;
  }

  membersOf(userGroupId: string): Promise<string[]> {
    const hit = this.cache.get(userGroupId);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.members;
    const members = this.client()
      .then((client) => client.usergroups.users.list({ usergroup: userGroupId }))
      .then((out) => out.users ?? []);
    members.catch(() => this.cache.delete(userGroupId));
    this.cache.set(userGroupId, { at: Date.now(), members });
    return members;
  }

  channelMembers(channelId: string): Promise<string[]> {
    const hit = this.channels.get(channelId);
    if (hit && Date.now() - hit.at < this.channelTtlMs) return hit.members;
    const members = this.client().then(async (client) => {
      const all: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < MAX_MEMBER_PAGES; page++) {
        const out = await client.conversations.members({
          channel: channelId,
          limit: 1000,
          ...(cursor ? { cursor } : {}),
        });
        all.push(...(out.members ?? []));
        cursor = out.response_metadata?.next_cursor || undefined;
        if (!cursor) break;
      }
      return all;
    });
    members.catch(() => this.channels.delete(channelId));
    this.channels.set(channelId, { at: Date.now(), members });
    return members;
  }

  userIdByEmail(email: string): Promise<string | null> {
    const key = email.toLowerCase();
    const hit = this.emails.get(key);
    if (hit && Date.now() < hit.until) return hit.user;
    const user = this.client()
      .then((client) => client.users.lookupByEmail({ email: key }))
      .then(
        (out) => out.user?.id ?? null,
        (error: { data?: { error?: string } }) => {
          // Slack's answer for an address no user has; anything else is a failure to say.
          if (error?.data?.error === 'users_not_found') return null;
          throw error;
        },
      );
    this.emails.set(key, { until: Date.now() + EMAIL_HIT_MS, user });
    user.then(
      (found) => {
        if (found === null) this.emails.set(key, { until: Date.now() + EMAIL_MISS_MS, user });
      },
      () => this.emails.delete(key),
    );
    return user;
  }
}
