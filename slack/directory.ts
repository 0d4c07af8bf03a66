import type { WebClient } from '@slack/web-api';
import type { Directory } from '../services/shared/people';

/** Slack user-group membership through usergroups.users.list, cached briefly per container. */
export class SlackDirectory implements Directory {
  private readonly cache = new Map<string, { at: number; members: Promise<string[]> }>();
  private readonly client: () => Promise<WebClient>;
  private readonly ttlMs: number;

  constructor(options: { client: () => Promise<WebClient>; ttlMs?: number }) {
    this.client = options.client;
    this.ttlMs = options.ttlMs ?? 60_000;
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
}
