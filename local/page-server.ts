import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Logger } from '../services/shared/logger';
import { ALERT_CHANNEL, APPROVERS_GROUP, ONCALL_GROUP, SANDBOX_USERS, TEAM_CHANNELS } from './sandbox-config';
import { dmChannelFor, type SlackEmulator } from './shared/slack-emulator';
import { type InputValue, isSandboxUser, type SlackWorkspace, type UserId, withIds } from './slack-workspace';

type Json = Record<string, unknown>;

/** What the page's API needs from the running sandbox. */
export interface PageBackend {
  workspace: SlackWorkspace;
  slack: SlackEmulator;
  logger: Logger;
  pageDir: string;
  pageScript: () => string;
  /** The emulated AWS account's groups and rules. */
  account(): Promise<unknown>;
  /** Performs a change in AWS and delivers its CloudTrail event to detection. */
  change(request: Json): Promise<Json>;
  /** Makes a burst of changes at once (a new group, many world-open rules) and delivers their events side by side. */
  burst(request: Json): Promise<Json>;
  /** Runs the sweeper now (as its schedule would). */
  sweepNow(): Promise<Json>;
  /** Moves the bot's clock ahead by `seconds`, then sweeps (unless stopped) and runs due backstops. */
  skipAhead(seconds: number): Promise<Json>;
  /** Stops or restarts the sweeper's schedule (the backstop runs regardless). */
  setSweeper?(running: boolean): Promise<Json>;
  /** Static facts for the page: the seeded world, commands, the sweeper's interval. */
  info(): Json;
  /** Extra routes (e.g. handlers that serve plain HTTP pages); return false when not handled. */
  route?(req: IncomingMessage, res: ServerResponse, body: string): Promise<boolean>;
}

/** A sentence for the person, with an HTTP status: bad input is 4xx with a clear message, never a stack. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  type = 'application/json; charset=utf-8',
): void {
  res.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...(type.startsWith('text/html')
      ? {
          'content-security-policy':
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
        }
      : {}),
  });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

function readBody(req: IncomingMessage, limit = 256 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new HttpError(413, 'Request body too large.'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function userOf(value: unknown): UserId {
  if (!isSandboxUser(value)) throw new HttpError(400, 'Pick a user: U0ENGINEER or U0APPROVER.');
  return value;
}

function text(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '') throw new HttpError(400, `${name} is missing.`);
  return value;
}

function inputsOf(value: unknown): Record<string, Record<string, InputValue>> {
  return typeof value === 'object' && value !== null
    ? (value as Record<string, Record<string, InputValue>>)
    : {};
}

const TEAM_CHANNEL_IDS: readonly string[] = TEAM_CHANNELS.map((c) => c.id);

/**
 * The page's name for a conversation: `alerts` (the alert channel), `dm` (the app's direct messages to
 * `me`: their D… channel, or their user ID in a workspace saved before DM channels), a team channel's ID;
 * null for any other.
 */
function conversationOf(channel: string, me: UserId): string | null {
  if (channel === ALERT_CHANNEL.id) return 'alerts';
  if (channel === me || channel === dmChannelFor(me)) return 'dm';
  return TEAM_CHANNEL_IDS.includes(channel) ? channel : null;
}

/** The workspace's channel of a conversation the page names, for a message `ts` in it. */
function channelOf(slack: SlackEmulator, conversation: unknown, me: UserId, ts: string): string {
  if (conversation === 'dm') {
    const dm = dmChannelFor(me);
    return slack.messages.has(`${dm}/${ts}`) ? dm : me;
  }
  if (typeof conversation === 'string' && TEAM_CHANNEL_IDS.includes(conversation)) return conversation;
  return ALERT_CHANNEL.id;
}

/** What one user sees: the channels' messages (their own ephemerals only) and their open modals. */
export function workspaceState(slack: SlackEmulator, workspace: SlackWorkspace, me: UserId): Json {
  // The alert channel, the teams' channels, and the app's direct messages to `me`.
  const messages = [...slack.messages.values()]
    .filter((m) => conversationOf(m.channel, me) !== null && (!m.ephemeralTo || m.ephemeralTo === me))
    .sort((a, b) => Number(a.ts) - Number(b.ts))
    .map((m) => ({
      channel: conversationOf(m.channel, me),
      ts: m.ts,
      threadTs: m.threadTs ?? null,
      text: m.text,
      blocks: withIds(m.blocks as Json[] as { type: string }[]),
      ephemeral: Boolean(m.ephemeralTo),
      updated: m.updated,
    }));
  const views = [...slack.viewInfo.entries()]
    .filter(([id, info]) => !info.closed && !info.homeOf && workspace.viewOwner(id) === me)
    .map(([id, info]) => {
      const view = slack.views.get(id) as Json & { blocks?: { type: string }[] };
      return { id, parentId: info.parentId ?? null, view: { ...view, blocks: withIds(view.blocks ?? []) } };
    });
  // The app's Home tab as last published to `me` (views.publish), if it was.
  const homeId = slack.homeViewOf(me);
  const homeView = homeId ? (slack.views.get(homeId) as Json & { blocks?: { type: string }[] }) : undefined;
  const home =
    homeId && homeView ? { id: homeId, view: { ...homeView, blocks: withIds(homeView.blocks ?? []) } } : null;
  return { me, messages, views, home };
}

/**
 * The local Slack workspace page and its tiny API, on loopback only. Every click becomes a real,
 * signed Slack request to the bot (through SlackWorkspace); the page hears of changes over SSE.
 */
export async function startPageServer(
  backend: PageBackend,
  port: number,
): Promise<{ url: string; stop(): Promise<void> }> {
  const streams = new Set<ServerResponse>();
  const off = backend.slack.onChange(() => {
    for (const res of streams) res.write('event: change\ndata: {}\n\n');
  });
  let actualPort = port;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    // Only this machine's browser may use the page: refuse other Host names (DNS rebinding) and other origins.
    const host = req.headers.host ?? '';
    if (!new RegExp(`^(localhost|127\\.0\\.0\\.1|\\[::1\\]):${actualPort}$`).test(host)) {
      throw new HttpError(421, 'Open the sandbox at http://localhost (this Host is not served).');
    }
    const body = req.method === 'POST' ? await readBody(req) : '';
    // Extra routes are the deployed handlers, served as API Gateway serves them (the `me` link's page):
    // they are protected by what a request carries, as in AWS, not by its Origin — that page's
    // `Referrer-Policy: no-referrer` makes browsers send `Origin: null` with its form.
    if (backend.route && (await backend.route(req, res, body))) return;
    // The page's own API below is for this machine's page only.
    if (req.method === 'POST') {
      const origin = req.headers.origin;
      if (
        origin &&
        !new RegExp(`^http://(localhost|127\\.0\\.0\\.1|\\[::1\\]):${actualPort}$`).test(origin)
      ) {
        throw new HttpError(403, 'Requests from other sites are refused.');
      }
    }

    if (req.method === 'GET') {
      switch (url.pathname) {
        case '/':
          return send(
            res,
            200,
            readFileSync(join(backend.pageDir, 'index.html'), 'utf8'),
            'text/html; charset=utf-8',
          );
        case '/style.css':
          return send(
            res,
            200,
            readFileSync(join(backend.pageDir, 'style.css'), 'utf8'),
            'text/css; charset=utf-8',
          );
        case '/favicon.ico':
          res.writeHead(204, { 'cache-control': 'max-age=86400' });
          res.end();
          return;
        case '/app.js':
          return send(res, 200, backend.pageScript(), 'text/javascript; charset=utf-8');
        case '/api/info':
          return send(res, 200, {
            ...backend.info(),
            channel: ALERT_CHANNEL,
            teamChannels: TEAM_CHANNELS.map(({ id, name }) => ({ id, name })),
            users: Object.entries(SANDBOX_USERS).map(([id, u]) => ({ id, ...u })),
            userGroups: { [APPROVERS_GROUP]: 'security-approvers', [ONCALL_GROUP]: 'security-oncall' },
          });
        case '/api/state':
          return send(
            res,
            200,
            workspaceState(backend.slack, backend.workspace, userOf(url.searchParams.get('user'))),
          );
        case '/api/aws':
          return send(res, 200, { groups: await backend.account() });
        case '/api/events': {
          res.writeHead(200, {
            'content-type': 'text/event-stream',
            'cache-control': 'no-store',
            connection: 'keep-alive',
          });
          res.write('event: hello\ndata: {}\n\n');
          streams.add(res);
          req.on('close', () => streams.delete(res));
          return;
        }
        default:
          // A message's permalink (Slack's /archives/<channel>/p<ts> form): the page, which opens it.
          if (/^\/archives\/[A-Z0-9]+\/p\d+$/.test(url.pathname)) {
            return send(
              res,
              200,
              readFileSync(join(backend.pageDir, 'index.html'), 'utf8'),
              'text/html; charset=utf-8',
            );
          }
          throw new HttpError(404, 'Not found.');
      }
    }
    if (req.method !== 'POST') throw new HttpError(405, 'Method not allowed.');
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
      throw new HttpError(415, 'Send JSON.');
    }
    let input: Json;
    try {
      input = JSON.parse(body || '{}') as Json;
    } catch {
      throw new HttpError(400, 'The request is not valid JSON.');
    }
    const { workspace } = backend;
    switch (url.pathname) {
      case '/api/command': {
        const command = text(input.command, 'The command');
        if (!/^\/[a-z-]+$/.test(command)) throw new HttpError(400, 'A command looks like /sg-status.');
        return send(res, 200, await workspace.command(userOf(input.user), command, String(input.text ?? '')));
      }
      case '/api/action':
        if (typeof input.viewId === 'string') {
          return send(
            res,
            200,
            await workspace.viewAction(
              userOf(input.user),
              {
                viewId: input.viewId,
                blockId: text(input.blockId, 'blockId'),
                actionId: text(input.actionId, 'actionId'),
                value: (input.value as string | null | undefined) ?? null,
              },
              inputsOf(input.inputs),
            ),
          );
        }
        return send(
          res,
          200,
          await workspace.messageAction(userOf(input.user), {
            channel: channelOf(
              backend.slack,
              input.channel,
              userOf(input.user),
              text(input.ts, 'The message'),
            ),
            ts: text(input.ts, 'The message'),
            blockId: text(input.blockId, 'blockId'),
            actionId: text(input.actionId, 'actionId'),
            value: (input.value as string | null | undefined) ?? null,
          }),
        );
      case '/api/home/open':
        return send(res, 200, await workspace.openHome(userOf(input.user)));
      case '/api/view/submit':
        return send(
          res,
          200,
          await workspace.submitView(
            userOf(input.user),
            text(input.viewId, 'The dialog'),
            inputsOf(input.inputs),
          ),
        );
      case '/api/view/close':
        return send(
          res,
          200,
          await workspace.closeView(userOf(input.user), text(input.viewId, 'The dialog')),
        );
      case '/api/change':
        return send(res, 200, await backend.change(input));
      case '/api/burst':
        return send(res, 200, await backend.burst(input));
      case '/api/sweep':
        return send(res, 200, await backend.sweepNow());
      case '/api/sweeper': {
        if (typeof input.running !== 'boolean' || !backend.setSweeper)
          throw new HttpError(400, 'running must be true or false.');
        return send(res, 200, await backend.setSweeper(input.running));
      }
      case '/api/clock': {
        const seconds = Number(input.advanceSeconds);
        if (!Number.isInteger(seconds) || seconds <= 0 || seconds > 7 * 86400) {
          throw new HttpError(400, 'advanceSeconds must be a whole number of seconds, up to a week.');
        }
        return send(res, 200, await backend.skipAhead(seconds));
      }
      default:
        throw new HttpError(404, 'Not found.');
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error) => {
      const status =
        error instanceof HttpError ? error.status : ((error as { status?: number }).status ?? 500);
      const message =
        error instanceof HttpError || status < 500
          ? (error as Error).message
          : 'The sandbox hit an error; the terminal has the details.';
      if (status >= 500)
        backend.logger.error({ err: (error as Error).message, path: req.url }, 'page request failed');
      if (!res.headersSent) send(res, status, { ok: false, error: message });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  actualPort = (server.address() as AddressInfo).port;
  return {
    url: `http://localhost:${actualPort}`,
    stop: async () => {
      off();
      for (const res of streams) res.end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
