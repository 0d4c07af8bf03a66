// What the local Slack emulator records, holds and is configured with.

/** One Web API call as the emulator received it, arguments decoded (blocks/view parsed from JSON). */
export interface RecordedCall {
  method: string;
  args: Record<string, unknown>;
  token: string | undefined;
  at: number;
}

/** A message as the emulated workspace holds it (after any chat.update). */
export interface EmulatedMessage {
  channel: string;
  ts: string;
  threadTs?: string;
  text: string;
  blocks: unknown[];
  user?: string;
  ephemeralTo?: string;
  updated: number;
  /** Message metadata (chat.postMessage `metadata`), returned by conversations.history with include_all_metadata. */
  metadata?: unknown;
}

/** What a scripted fault makes the emulator answer instead of the real result. */
export type Fault =
  | { kind: 'error'; error: string }
  | { kind: 'rate-limited'; retryAfterSeconds: number }
  | { kind: 'http'; status: number }
  | { kind: 'delay'; ms: number };

export interface SlackEmulatorOptions {
  /** Bot token the emulator accepts; calls with another get `invalid_auth`. */
  token?: string;
  /** Enforce Slack's ~1 message per second per channel for chat.postMessage (429 beyond it). */
  channelRateLimitPerSecond?: number;
  /**
   * Rate limits per Web API method and channel: at most `calls` in any `perSeconds` window of the
   * emulator's clock, beyond which it answers 429 with Retry-After (the seconds until the window has room),
   * e.g. `{ 'chat.update': { calls: 1, perSeconds: 1 } }`. `channelRateLimitPerSecond` is the same for
   * chat.postMessage. Deterministic: it reads only the `now` clock.
   */
  rateLimits?: Record<string, { calls: number; perSeconds: number }>;
  /** Slack user-group ID → member user IDs, for usergroups.users.list. */
  userGroups?: Record<string, string[]>;
  /**
   * Channel ID → member user IDs, for conversations.members (paged like Slack, by `limit` and `cursor`).
   * A channel not listed is one the bot cannot see: `channel_not_found`.
   */
  channelMembers?: Record<string, string[]>;
  /** Users in the emulated workspace, for users.info and users.lookupByEmail (by `email`). */
  users?: Record<string, { name: string; realName?: string; tz?: string; email?: string }>;
  /** The emulator's clock (epoch ms) for rate limits and call times; a bench may run it ahead of real time. */
  now?: () => number;
}

/** Where a response_url's posts land in the emulated workspace (as Slack applies them). */
export interface ResponseContext {
  channel: string;
  /** The user who acted: ephemeral replies are shown to them only. */
  user: string;
  /** The message the interaction came from: `replace_original` / `delete_original` act on it. */
  messageTs?: string;
  threadTs?: string;
}

/** How an open modal came to be: the trigger that opened it and the view it was pushed on, if any. */
export interface ViewInfo {
  triggerId: string;
  /** Set by views.push: the view underneath. */
  parentId?: string;
  closed: boolean;
  /** Set for a Home tab (views.publish): the user it is published to. */
  homeOf?: string;
}

/** Something in the emulated workspace changed (for a live page). */
export type WorkspaceChange =
  | { kind: 'message'; channel: string; ts: string }
  | { kind: 'message-deleted'; channel: string; ts: string }
  | { kind: 'view'; id: string };

/** The workspace's state as plain JSON (for keeping it between runs of the local sandbox). */
export interface WorkspaceSnapshot {
  messages: EmulatedMessage[];
  views: { id: string; view: Record<string, unknown>; info?: ViewInfo }[];
  tsCounter: number;
  viewCounter: number;
}
