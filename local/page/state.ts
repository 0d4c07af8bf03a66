/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The sandbox page's shared state and the types of what the sandbox's API sends it.
import type { MrkdwnContext } from './mrkdwn';

// biome-ignore lint/suspicious/noExplicitAny: Block Kit JSON as the bot sent it.
export type Block = { type: string; [key: string]: any };
export type InputValue = string | string[] | null;

/** A conversation: the alert channel, the app's direct messages, its Home tab (`home`), or a team channel (its ID). */
export type Conversation = 'alerts' | 'dm' | (string & {});

export interface Message {
  channel: Conversation;
  ts: string;
  threadTs: string | null;
  text: string;
  blocks: Block[];
  ephemeral: boolean;
  updated: number;
}
export interface OpenView {
  id: string;
  parentId: string | null;
  view: Block;
}
/** The app's Home tab (views.publish) of the person the page acts as. */
export interface HomeTab {
  id: string;
  view: Block;
}
export interface Info {
  users: { id: string; name: string; realName: string; title: string }[];
  userGroups: Record<string, string>;
  channel: { id: string; name: string };
  /** The teams' channels slack.routes posts to. */
  teamChannels: { id: string; name: string }[];
  world: {
    account: string;
    region: string;
    groups: Record<string, { groupId: string; name: string }>;
    instances: { instanceId: string; name: string; tags: Record<string, string> }[];
  };
  sweepIntervalMs: number;
  lastSweep: { at: string } | null;
  clockAheadSeconds: number;
  /** False once the page stopped the sweeper's schedule (the backstop still runs). */
  sweeperRunning?: boolean;
  aws: {
    endpoint: string;
    region: string;
    keys: { name: string; accessKeyId: string; description: string }[];
  };
}
export interface DoorAnswer {
  ok: boolean;
  status?: number;
  error?: string;
  errors?: Record<string, string>;
}

export interface ShownView {
  id: string;
  json: string;
  errors: Record<string, string>;
}

/** What the page shows and for whom: one object, so every module reads and sets the same values. */
export const page = {
  /** Set by start() from /api/info before anything renders. */
  info: undefined as unknown as Info,
  me: localStorage.getItem('sg-warden-sandbox-user') ?? 'U0ENGINEER',
  messages: [] as Message[],
  /** Which conversation is shown: the alert channel, a team channel, the app's direct messages, or its Home tab. */
  conversation: 'alerts' as Conversation,
  /** The app's Home tab as last published to this person. */
  home: null as HomeTab | null,
  dmSeen: 0,
  shownView: null as ShownView | null,
  /** How far the bot's clock runs ahead of this machine's ("Skip the bot's clock ahead"). */
  clockAheadMs: 0,
};

/** The bot's "now": relative dates ("in 5 minutes") are the bot's, as everything else on the page. */
export function botNow(): Date {
  return new Date(Date.now() + page.clockAheadMs);
}

export function ctx(): MrkdwnContext {
  const users: Record<string, string> = { UBOT: 'sg-warden' };
  for (const u of page.info?.users ?? []) users[u.id] = u.realName;
  const channels: Record<string, string> = {};
  for (const c of [page.info?.channel, ...(page.info?.teamChannels ?? [])]) if (c) channels[c.id] = c.name;
  return { users, userGroups: page.info?.userGroups ?? {}, channels, now: botNow() };
}
