import type { IncomingMessage, ServerResponse } from 'node:http';
import { blockKitProblems } from './block-kit-limits';
import { LoopbackServer, readBody } from './loopback-http';
import type {
  EmulatedMessage,
  Fault,
  RecordedCall,
  ResponseContext,
  SlackEmulatorOptions,
  ViewInfo,
  WorkspaceChange,
  WorkspaceSnapshot,
} from './slack-emulator-types';

type Handler = (args: Record<string, unknown>) => Record<string, unknown>;

/** Slack refuses a message whose text is longer (`msg_too_long`). */
const MESSAGE_TEXT_LIMIT = 40_000;

const USER_ID = /^[UW][A-Z0-9]{2,}$/;

/**
 * The direct-message channel (D…) between the bot and a user, as Slack names it: chat.postMessage to a
 * user's ID posts there and answers with it; conversations.open answers it too.
 */
export function dmChannelFor(user: string): string {
  return `D${user.slice(1)}`;
}

/**
 * A local stand-in for Slack's Web API: records every call, keeps messages like a workspace,
 * answers like Slack (including `ok: false` errors and 429 with Retry-After on request), and
 * also accepts posts to response URLs it hands out.
 */
export class SlackEmulator {
  readonly calls: RecordedCall[] = [];
  readonly responseUrlPosts: { id: string; body: Record<string, unknown> }[] = [];
  readonly messages = new Map<string, EmulatedMessage>();
  readonly views = new Map<string, Record<string, unknown>>();
  /** Calls answered 429 by a rate limit (options.rateLimits / channelRateLimitPerSecond), in order. */
  readonly rateLimited: RecordedCall[] = [];
  private readonly faults = new Map<string, Fault[]>();
  private readonly lastPostAt = new Map<string, number[]>();
  private readonly http = new LoopbackServer(
    (req, res) => this.handle(req, res),
    (error, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: false, error: `emulator_error: ${error.message}` }));
    },
  );
  private tsCounter = 0;
  private viewCounter = 0;
  private listeners: ((call: RecordedCall) => void)[] = [];
  private changeListeners: ((change: WorkspaceChange) => void)[] = [];
  private readonly responseContexts = new Map<string, ResponseContext>();
  /** Per view: its trigger and stack position (views.open / views.push). */
  readonly viewInfo = new Map<string, ViewInfo>();
  url = '';

  /** Where chat.getPermalink links point (the sandbox: its own page, which opens the message). */
  permalinkBase = 'https://emulated.slack';

  constructor(readonly options: SlackEmulatorOptions = {}) {}

  /** The base URL to give WebClient as `slackApiUrl`. */
  get apiUrl(): string {
    return `${this.url}/api/`;
  }

  /**
   * A fresh response_url that records what is posted to it. With a context, posts are also applied
   * to the workspace as Slack applies them (ephemeral to the user, in channel, replace or delete the original).
   */
  responseUrl(
    id = `r${Date.now()}${Math.random().toString(36).slice(2, 8)}`,
    context?: ResponseContext,
  ): string {
    if (context) this.responseContexts.set(id, context);
    return `${this.url}/response/${id}`;
  }

  /** Calls `listener` whenever a message or view changes; returns the unsubscribe function. */
  onChange(listener: (change: WorkspaceChange) => void): () => void {
    this.changeListeners.push(listener);
    return () => {
      this.changeListeners = this.changeListeners.filter((l) => l !== listener);
    };
  }

  /** Adds a message only `user` sees (what Slack shows for a slash command's immediate answer). */
  addEphemeral(
    channel: string,
    user: string,
    text: string,
    blocks: unknown[] = [],
    threadTs?: string,
  ): EmulatedMessage {
    const ts = this.nextTs();
    const message: EmulatedMessage = {
      channel,
      ts,
      text,
      blocks,
      ephemeralTo: user,
      updated: this.now(),
      ...(threadTs ? { threadTs } : {}),
    };
    this.messages.set(this.key(channel, ts), message);
    this.changed({ kind: 'message', channel, ts });
    return message;
  }

  /** Closes a modal (the user pressed Cancel or ×, or a submission closed it). */
  closeView(id: string): void {
    const info = this.viewInfo.get(id);
    if (!info || info.closed) return;
    info.closed = true;
    this.changed({ kind: 'view', id });
  }

  /** The workspace as plain JSON: messages, views and counters (no recorded calls). */
  snapshot(): WorkspaceSnapshot {
    return {
      messages: [...this.messages.values()],
      views: [...this.views.entries()].map(([id, view]) => {
        const info = this.viewInfo.get(id);
        return { id, view, ...(info ? { info } : {}) };
      }),
      tsCounter: this.tsCounter,
      viewCounter: this.viewCounter,
    };
  }

  /** Puts back a workspace taken with snapshot(). */
  restore(snapshot: WorkspaceSnapshot): void {
    for (const message of snapshot.messages)
      this.messages.set(this.key(message.channel, message.ts), message);
    for (const { id, view, info } of snapshot.views) {
      this.views.set(id, view);
      if (info) this.viewInfo.set(id, info);
    }
    this.tsCounter = Math.max(this.tsCounter, snapshot.tsCounter);
    this.viewCounter = Math.max(this.viewCounter, snapshot.viewCounter);
  }

  async start(port = 0): Promise<this> {
    this.url = await this.http.listen(port);
    return this;
  }

  async stop(): Promise<void> {
    await this.http.close();
  }

  /** Makes the next `times` calls of `method` fail as described. */
  failNext(method: string, fault: Fault, times = 1): void {
    const queue = this.faults.get(method) ?? [];
    for (let i = 0; i < times; i++) queue.push(fault);
    this.faults.set(method, queue);
  }

  /** Makes every call of `method` fail until clearFaults(). */
  failAlways(method: string, fault: Fault): void {
    this.failNext(method, fault, 1_000_000);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  reset(): void {
    this.calls.length = 0;
    this.responseUrlPosts.length = 0;
    this.messages.clear();
    this.views.clear();
    this.viewInfo.clear();
    this.responseContexts.clear();
    this.faults.clear();
    this.lastPostAt.clear();
    this.rateLimited.length = 0;
  }

  /** Calls of one method, in order. */
  callsTo(method: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  onCall(listener: (call: RecordedCall) => void): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** Resolves when a call to `method` matching `predicate` has been recorded. */
  waitFor(
    method: string,
    predicate: (c: RecordedCall) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<RecordedCall> {
    const existing = this.calls.find((c) => c.method === method && predicate(c));
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`no ${method} call within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.onCall((c) => {
        if (c.method === method && predicate(c)) {
          clearTimeout(timer);
          off();
          resolve(c);
        }
      });
    });
  }

  private nextTs(): string {
    this.tsCounter += 1;
    // The emulator's clock: in the sandbox, the bot's (which may run ahead), so times agree everywhere.
    const seconds = Math.floor(this.now() / 1000);
    return `${seconds}.${String(this.tsCounter).padStart(6, '0')}`;
  }

  /** The ID of a user's Home tab view (views.publish), if the app has published one. */
  homeViewOf(user: string): string | undefined {
    for (const [id, info] of this.viewInfo) if (info.homeOf === user) return id;
    return undefined;
  }

  /** The ID of the view the app named `externalId` (views.open / views.update `external_id`), if any. */
  private viewByExternalId(externalId: unknown): string | undefined {
    if (typeof externalId !== 'string' || externalId === '') return undefined;
    for (const [id, view] of this.views)
      if ((view as { external_id?: unknown }).external_id === externalId) return id;
    return undefined;
  }

  private key(channel: string, ts: string): string {
    return `${channel}/${ts}`;
  }

  private changed(change: WorkspaceChange): void {
    for (const listener of this.changeListeners) listener(change);
  }

  /** Applies a response_url post to the workspace the way Slack does. */
  private applyResponse(context: ResponseContext, body: Record<string, unknown>): void {
    const { channel } = context;
    const original = context.messageTs ? this.messages.get(this.key(channel, context.messageTs)) : undefined;
    if (body.delete_original === true || body.delete_original === 'true') {
      if (original) {
        this.messages.delete(this.key(channel, original.ts));
        this.changed({ kind: 'message-deleted', channel, ts: original.ts });
      }
      return;
    }
    const text = String(body.text ?? '');
    const blocks = Array.isArray(body.blocks) ? (body.blocks as unknown[]) : [];
    if ((body.replace_original === true || body.replace_original === 'true') && original) {
      original.text = text;
      original.blocks = blocks;
      original.updated = this.now();
      this.changed({ kind: 'message', channel, ts: original.ts });
      return;
    }
    const threadTs = body.thread_ts ? String(body.thread_ts) : context.threadTs;
    if (body.response_type === 'in_channel') {
      const ts = this.nextTs();
      this.messages.set(this.key(channel, ts), {
        channel,
        ts,
        text,
        blocks,
        updated: this.now(),
        ...(threadTs ? { threadTs } : {}),
      });
      this.changed({ kind: 'message', channel, ts });
      return;
    }
    this.addEphemeral(channel, context.user, text, blocks, threadTs);
  }

  private readonly methods: Record<string, Handler> = {
    'auth.test': () => ({ user_id: 'UBOT', bot_id: 'BBOT', team_id: 'TEMU', url: 'https://emulated.slack/' }),
    'chat.postMessage': (args) => {
      const asked = String(args.channel ?? '');
      if (!asked) return { ok: false, error: 'channel_not_found' };
      // Like Slack: a user's ID as the channel posts in the bot's direct message with them (a user the
      // workspace does not have, when it lists its users, has no such channel).
      if (USER_ID.test(asked) && this.options.users && !this.options.users[asked])
        return { ok: false, error: 'channel_not_found' };
      const channel = USER_ID.test(asked) ? dmChannelFor(asked) : asked;
      const ts = this.nextTs();
      const message: EmulatedMessage = {
        channel,
        ts,
        text: String(args.text ?? ''),
        blocks: (args.blocks as unknown[]) ?? [],
        updated: this.now(),
        ...(args.thread_ts ? { threadTs: String(args.thread_ts) } : {}),
        ...(args.metadata !== undefined ? { metadata: args.metadata } : {}),
      };
      this.messages.set(this.key(channel, ts), message);
      this.changed({ kind: 'message', channel, ts });
      return { channel, ts, message: { text: message.text, ts } };
    },
    // The channel's top-level messages, newest first (no ephemeral ones), like Slack's history.
    'conversations.history': (args) => {
      const channel = String(args.channel ?? '');
      if (!channel) return { ok: false, error: 'channel_not_found' };
      const oldest = Number(args.oldest ?? 0);
      const latest = args.latest === undefined ? Number.POSITIVE_INFINITY : Number(args.latest);
      const limit = Math.min(Number(args.limit ?? 100) || 100, 999);
      const withMetadata = args.include_all_metadata === true || args.include_all_metadata === 'true';
      const found = [...this.messages.values()]
        .filter((m) => m.channel === channel && !m.threadTs && !m.ephemeralTo)
        .filter((m) => Number(m.ts) >= oldest && Number(m.ts) <= latest)
        .sort((a, b) => Number(b.ts) - Number(a.ts));
      return {
        messages: found.slice(0, limit).map((m) => ({
          type: 'message',
          ts: m.ts,
          text: m.text,
          ...(withMetadata && m.metadata !== undefined ? { metadata: m.metadata } : {}),
        })),
        has_more: found.length > limit,
      };
    },
    'chat.update': (args) => {
      const channel = String(args.channel ?? '');
      const ts = String(args.ts ?? '');
      const existing = this.messages.get(this.key(channel, ts));
      if (!existing) return { ok: false, error: 'message_not_found' };
      existing.text = String(args.text ?? existing.text);
      if (args.blocks !== undefined) existing.blocks = args.blocks as unknown[];
      existing.updated = this.now();
      this.changed({ kind: 'message', channel, ts });
      return { channel, ts, text: existing.text };
    },
    'chat.delete': (args) => {
      const channel = String(args.channel ?? '');
      const ts = String(args.ts ?? '');
      if (!this.messages.delete(this.key(channel, ts))) return { ok: false, error: 'message_not_found' };
      this.changed({ kind: 'message-deleted', channel, ts });
      return { channel, ts };
    },
    'chat.postEphemeral': (args) => {
      const channel = String(args.channel ?? '');
      const user = String(args.user ?? '');
      if (!channel || !user) return { ok: false, error: 'invalid_arguments' };
      const ts = this.nextTs();
      this.messages.set(this.key(channel, ts), {
        channel,
        ts,
        text: String(args.text ?? ''),
        blocks: (args.blocks as unknown[]) ?? [],
        ephemeralTo: user,
        updated: this.now(),
        ...(args.thread_ts ? { threadTs: String(args.thread_ts) } : {}),
      });
      this.changed({ kind: 'message', channel, ts });
      return { message_ts: ts };
    },
    'chat.getPermalink': (args) => {
      const channel = String(args.channel ?? '');
      const ts = String(args.message_ts ?? '');
      if (!this.messages.has(this.key(channel, ts))) return { ok: false, error: 'message_not_found' };
      return { channel, permalink: `${this.permalinkBase}/archives/${channel}/p${ts.replace('.', '')}` };
    },
    'views.open': (args) => {
      if (!args.trigger_id) return { ok: false, error: 'invalid_trigger_id' };
      if (this.viewByExternalId((args.view as { external_id?: unknown })?.external_id))
        return { ok: false, error: 'duplicate_external_id' };
      this.viewCounter += 1;
      const id = `V${String(this.viewCounter).padStart(8, '0')}`;
      const view = { ...(args.view as Record<string, unknown>), id };
      this.views.set(id, view);
      this.viewInfo.set(id, { triggerId: String(args.trigger_id), closed: false });
      this.changed({ kind: 'view', id });
      return { view };
    },
    'views.push': (args) => {
      if (!args.trigger_id) return { ok: false, error: 'invalid_trigger_id' };
      const parent = [...this.viewInfo.entries()]
        .reverse()
        .find(([, info]) => info.triggerId === String(args.trigger_id) && !info.closed);
      this.viewCounter += 1;
      const id = `V${String(this.viewCounter).padStart(8, '0')}`;
      const view = { ...(args.view as Record<string, unknown>), id };
      this.views.set(id, view);
      this.viewInfo.set(id, {
        triggerId: String(args.trigger_id),
        closed: false,
        ...(parent ? { parentId: parent[0] } : {}),
      });
      this.changed({ kind: 'view', id });
      return { view };
    },
    'views.update': (args) => {
      // Like Slack: a view is named by its view_id, or by the external_id the app gave it.
      const id = args.view_id ? String(args.view_id) : (this.viewByExternalId(args.external_id) ?? '');
      if (!this.views.has(id)) return { ok: false, error: 'not_found' };
      const view = { ...(args.view as Record<string, unknown>), id };
      this.views.set(id, view);
      this.changed({ kind: 'view', id });
      return { view };
    },
    // The app's Home tab of one user: one view per user, replaced by each publish (its ID stays).
    'views.publish': (args) => {
      const user = String(args.user_id ?? '');
      const view = args.view as Record<string, unknown> | undefined;
      if (!user) return { ok: false, error: 'invalid_arguments' };
      if (view?.type !== 'home') return { ok: false, error: 'invalid_arguments' };
      let id = this.homeViewOf(user);
      if (!id) {
        this.viewCounter += 1;
        id = `V${String(this.viewCounter).padStart(8, '0')}`;
        this.viewInfo.set(id, { triggerId: '', closed: false, homeOf: user });
      }
      const published = { ...view, id };
      this.views.set(id, published);
      this.changed({ kind: 'view', id });
      return { view: published };
    },
    'usergroups.users.list': (args) => {
      const users = this.options.userGroups?.[String(args.usergroup ?? '')];
      if (!users) return { ok: false, error: 'no_such_subteam' };
      return { users };
    },
    'conversations.members': (args) => {
      const members = this.options.channelMembers?.[String(args.channel ?? '')];
      if (!members) return { ok: false, error: 'channel_not_found' };
      const limit = Math.min(Math.max(Number(args.limit ?? 100) || 100, 1), 1000);
      const from = Number(args.cursor ?? 0) || 0;
      const next = from + limit < members.length ? String(from + limit) : '';
      return { members: members.slice(from, from + limit), response_metadata: { next_cursor: next } };
    },
    // The bot's direct message with one user (a group DM of several is not emulated).
    'conversations.open': (args) => {
      const users = String(args.users ?? '')
        .split(',')
        .filter((u) => u !== '');
      if (users.length === 0) return { ok: false, error: 'users_list_not_supplied' };
      if (users.length > 1 || !USER_ID.test(users[0]!)) return { ok: false, error: 'not_implemented' };
      if (this.options.users && !this.options.users[users[0]!]) return { ok: false, error: 'user_not_found' };
      return { channel: { id: dmChannelFor(users[0]!) } };
    },
    // Slack's answer for an address no user has is `users_not_found`.
    'users.lookupByEmail': (args) => {
      const email = String(args.email ?? '').toLowerCase();
      if (!email) return { ok: false, error: 'invalid_email' };
      const found = Object.entries(this.options.users ?? {}).find(
        ([, u]) => u.email?.toLowerCase() === email,
      );
      if (!found) return { ok: false, error: 'users_not_found' };
      const [id, user] = found;
      return {
        user: {
          id,
          name: user.name,
          real_name: user.realName ?? user.name,
          tz: user.tz ?? 'UTC',
          profile: { email: user.email },
        },
      };
    },
    'users.info': (args) => {
      const id = String(args.user ?? '');
      const user = this.options.users?.[id];
      if (!user) return { ok: false, error: 'user_not_found' };
      return { user: { id, name: user.name, real_name: user.realName ?? user.name, tz: user.tz ?? 'UTC' } };
    },
  };

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const raw = (await readBody(req)).toString('utf8');
    if (url.pathname.startsWith('/response/')) {
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      const id = url.pathname.slice('/response/'.length);
      this.responseUrlPosts.push({ id, body });
      const context = this.responseContexts.get(id);
      if (context) this.applyResponse(context, body);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
      return;
    }
    if (!url.pathname.startsWith('/api/')) {
      res.writeHead(404);
      res.end();
      return;
    }
    const method = url.pathname.slice('/api/'.length);
    const args = decodeArgs(raw, req.headers['content-type'] ?? '');
    const auth = req.headers.authorization;
    const token =
      typeof auth === 'string' && auth.startsWith('Bearer ')
        ? auth.slice(7)
        : (args.token as string | undefined);
    const call: RecordedCall = { method, args, token, at: this.now() };
    this.calls.push(call);
    for (const listener of this.listeners) listener(call);

    const fault = this.takeFault(method);
    if (fault?.kind === 'delay') await new Promise((r) => setTimeout(r, fault.ms));
    if (fault?.kind === 'rate-limited')
      return reply(res, 429, { ok: false, error: 'ratelimited' }, fault.retryAfterSeconds);
    if (fault?.kind === 'http') return reply(res, fault.status, { ok: false, error: 'service_unavailable' });
    if (fault?.kind === 'error') return reply(res, 200, { ok: false, error: fault.error });
    if (this.options.token && token !== this.options.token)
      return reply(res, 200, { ok: false, error: 'invalid_auth' });
    const retryAfter = this.overLimit(method, String(args.channel ?? ''));
    if (retryAfter > 0) {
      this.rateLimited.push(call);
      return reply(res, 429, { ok: false, error: 'ratelimited' }, retryAfter);
    }
    const handler = this.methods[method];
    if (!handler) return reply(res, 200, { ok: false, error: 'unknown_method' });
    // Slack cuts a message's text at 40,000 characters and refuses longer ones.
    if (
      (method === 'chat.postMessage' || method === 'chat.update') &&
      String(args.text ?? '').length > MESSAGE_TEXT_LIMIT
    )
      return reply(res, 200, { ok: false, error: 'msg_too_long' });
    // Slack refuses Block Kit beyond its limits; so does the emulator, so a test sees what Slack would do.
    const problems = blockKitProblems(method, args);
    if (problems.length > 0) return reply(res, 200, { ok: false, error: 'invalid_blocks', errors: problems });
    const result = handler(args);
    if (result.ok === false) return reply(res, 200, result);
    reply(res, 200, { ok: true, ...result });
  }

  private takeFault(method: string): Fault | undefined {
    const queue = this.faults.get(method);
    if (!queue || queue.length === 0) return undefined;
    return queue.shift();
  }

  private now(): number {
    return this.options.now ? this.options.now() : Date.now();
  }

  /** 0 when the call is within its method's limit for the channel (and counts it); else Retry-After in seconds. */
  private overLimit(method: string, channel: string): number {
    const limit =
      this.options.rateLimits?.[method] ??
      (method === 'chat.postMessage' && this.options.channelRateLimitPerSecond
        ? { calls: this.options.channelRateLimitPerSecond, perSeconds: 1 }
        : undefined);
    if (!limit) return 0;
    const now = this.now();
    const windowMs = limit.perSeconds * 1000;
    const key = `${method}/${channel}`;
    const recent = (this.lastPostAt.get(key) ?? []).filter((t) => now - t < windowMs);
    if (recent.length >= limit.calls) {
      this.lastPostAt.set(key, recent);
      return Math.max(1, Math.ceil((recent[0]! + windowMs - now) / 1000));
    }
    recent.push(now);
    this.lastPostAt.set(key, recent);
    return 0;
  }
}

function reply(
  res: ServerResponse,
  status: number,
  body: Record<string, unknown>,
  retryAfter?: number,
): void {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter);
  res.writeHead(status, headers);
  res.end(JSON.stringify(body));
}

const JSON_FIELDS = ['blocks', 'attachments', 'view', 'metadata'];

function decodeArgs(raw: string, contentType: string): Record<string, unknown> {
  let args: Record<string, unknown> = {};
  if (contentType.includes('application/json')) {
    args = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
  } else {
    for (const [k, v] of new URLSearchParams(raw)) args[k] = v;
  }
  for (const field of JSON_FIELDS) {
    const value = args[field];
    if (typeof value === 'string') {
      try {
        args[field] = JSON.parse(value);
      } catch {
        // leave as sent
      }
    }
  }
  return args;
}
