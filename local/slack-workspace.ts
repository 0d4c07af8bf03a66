import { randomBytes } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Logger } from '../services/shared/logger';
import { ALERT_CHANNEL, SANDBOX_TEAM, SANDBOX_USERS, TEAM_CHANNELS } from './sandbox-config';
import type { SlackEmulator } from './shared/slack-emulator';
import type { EmulatedMessage } from './shared/slack-emulator-types';
import { appHomeOpenedBody, signedEvent, slashCommandBody } from './shared/slack-requests';

type Json = Record<string, unknown>;
// biome-ignore lint/suspicious/noExplicitAny: Block Kit JSON as the bot sent it.
type Block = { type: string; [key: string]: any };

/** Sends one signed Slack request to the Slack door (the slack-http handler as API Gateway invokes it). */
export type SlackDoor = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/** What the page gets back from one click or command. */
export interface DoorAnswer {
  ok: boolean;
  status: number;
  /** One sentence when Slack would show an error (as Slack words it). */
  error?: string;
  /** Validation errors a view submission returned, by block_id. */
  errors?: Record<string, string>;
  durationMs: number;
}

const TEAM = { id: SANDBOX_TEAM, domain: 'sg-warden-sandbox' };
const APP_ID = 'A0SGWARDEN';
/** Slack gives up on a request it has not had an answer to within 3 seconds. */
const SLACK_TIMEOUT_MS = 3000;

export type UserId = keyof typeof SANDBOX_USERS;

export function isSandboxUser(id: unknown): id is UserId {
  return typeof id === 'string' && Object.hasOwn(SANDBOX_USERS, id);
}

function slackUser(id: UserId) {
  const user = SANDBOX_USERS[id];
  return { id, username: user.name, name: user.name, team_id: TEAM.id };
}

/** An input element's value as the page sends it: one string, several, or nothing chosen. */
export type InputValue = string | string[] | null;

// biome-ignore lint/suspicious/noExplicitAny: option objects as Block Kit defines them.
function findOption(element: Block, value: string): any {
  const options = [
    ...(element.options ?? []),
    ...(element.option_groups ?? []).flatMap((g: Block) => g.options),
  ];
  return options.find((o: Block) => o.value === value) ?? null;
}

/** Gives every block and element an ID, as Slack does when the app sends none. */
export function withIds(blocks: Block[]): Block[] {
  return blocks.map((block, index) => {
    const blockId = block.block_id ?? `b${index}`;
    const withElement = (element: Block, i: number) =>
      element && typeof element === 'object' && element.type !== 'mrkdwn' && element.type !== 'plain_text'
        ? { ...element, action_id: element.action_id ?? `a${index}-${i}` }
        : element;
    return {
      ...block,
      block_id: blockId,
      ...(block.element ? { element: withElement(block.element, 0) } : {}),
      ...(block.accessory ? { accessory: withElement(block.accessory, 0) } : {}),
      ...(Array.isArray(block.elements) && block.type === 'actions'
        ? { elements: block.elements.map(withElement) }
        : {}),
    };
  });
}

/** A view's state.values from what the page's form holds, typed per element as Slack sends them. */
export function viewState(blocks: Block[], inputs: Record<string, Record<string, InputValue>>): Json {
  const values: Record<string, Json> = {};
  for (const block of withIds(blocks)) {
    const elements: Block[] =
      block.type === 'input' ? [block.element] : block.type === 'actions' ? (block.elements ?? []) : [];
    if (block.type === 'section' && block.accessory) elements.push(block.accessory);
    for (const element of elements) {
      if (!element?.action_id) continue;
      const raw = inputs[block.block_id]?.[element.action_id];
      const one = Array.isArray(raw) ? (raw[0] ?? null) : raw;
      const many = Array.isArray(raw) ? raw : raw ? [raw] : [];
      let state: Json | undefined;
      switch (element.type) {
        case 'plain_text_input':
        case 'number_input':
        case 'email_text_input':
        case 'url_text_input':
          state = { type: element.type, value: one === undefined || one === '' ? null : one };
          break;
        case 'static_select':
        case 'radio_buttons':
          state = { type: element.type, selected_option: one ? findOption(element, one) : null };
          break;
        case 'checkboxes':
        case 'multi_static_select':
          state = {
            type: element.type,
            selected_options: many.map((v) => findOption(element, v)).filter(Boolean),
          };
          break;
        case 'datepicker':
          state = { type: element.type, selected_date: one ?? null };
          break;
        case 'timepicker':
          state = { type: element.type, selected_time: one ?? null };
          break;
        case 'users_select':
          state = { type: element.type, selected_user: one ?? null };
          break;
        default:
          continue;
      }
      values[block.block_id] ??= {};
      values[block.block_id]![element.action_id] = state;
    }
  }
  return values;
}

function form(payload: Json): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/**
 * The people in the local workspace: turns what they do on the page into the requests Slack would
 * send (slash commands, button presses, modal submissions), signed with the app's signing secret, and
 * shows the answers where Slack shows them (ephemeral messages, modal errors, closed modals).
 */
export class SlackWorkspace {
  /** trigger_id → who clicked (a modal opened with it is shown to that person). */
  private readonly triggers = new Map<string, { user: UserId; at: number }>();

  constructor(
    private readonly options: {
      slack: SlackEmulator;
      signingSecret: string;
      /** The app's bot token: the page pushes and updates views the bot returns, as Slack does. */
      botToken: string;
      door: SlackDoor;
      logger: Logger;
    },
  ) {
    // Slack refuses a trigger older than 3 seconds; say so when the bot is that slow to open a modal.
    options.slack.onCall((call) => {
      if (call.method !== 'views.open' && call.method !== 'views.push') return;
      const trigger = this.triggers.get(String(call.args.trigger_id ?? ''));
      if (trigger && Date.now() - trigger.at > SLACK_TIMEOUT_MS) {
        options.logger.warn(
          { method: call.method, ageMs: Date.now() - trigger.at },
          'modal opened after the trigger expired: Slack would answer expired_trigger_id',
        );
      }
    });
  }

  /** Whose Home tab a view is (views.publish), if it is one. */
  homeOwner(viewId: string): string | undefined {
    return this.options.slack.viewInfo.get(viewId)?.homeOf;
  }

  /** The person opens the app's Home tab: Slack's signed `app_home_opened` event, as the Events API sends it. */
  async openHome(user: UserId): Promise<DoorAnswer> {
    const viewId = this.options.slack.homeViewOf(user);
    const body = appHomeOpenedBody({
      user: { id: user, name: SANDBOX_USERS[user].name },
      teamId: TEAM.id,
      ...(viewId ? { viewId } : {}),
    });
    const event = signedEvent(body, { secret: this.options.signingSecret, contentType: 'application/json' });
    const started = Date.now();
    const result = await this.options.door(event);
    const ms = Date.now() - started;
    this.options.logger.info(
      { slackUser: user, event: 'app_home_opened', status: result.statusCode, durationMs: ms },
      'slack event answered',
    );
    const status = result.statusCode ?? 200;
    return status === 200
      ? { ok: true, status, durationMs: ms }
      : { ok: false, status, error: `sg-warden answered HTTP ${status}.`, durationMs: ms };
  }

  /** Who a modal is shown to. */
  viewOwner(viewId: string): UserId | undefined {
    const info = this.options.slack.viewInfo.get(viewId);
    return info ? this.triggers.get(info.triggerId)?.user : undefined;
  }

  private newTrigger(user: UserId): string {
    const id = `${Date.now()}.${randomBytes(6).toString('hex')}.sandbox`;
    this.triggers.set(id, { user, at: Date.now() });
    return id;
  }

  private async send(
    body: string,
    what: Json,
  ): Promise<{ result: APIGatewayProxyStructuredResultV2; ms: number }> {
    const event = signedEvent(body, { secret: this.options.signingSecret });
    const started = Date.now();
    const result = await this.options.door(event);
    const ms = Date.now() - started;
    this.options.logger.info(
      { ...what, status: result.statusCode, durationMs: ms },
      'slack request answered',
    );
    if (ms > SLACK_TIMEOUT_MS) {
      this.options.logger.warn(
        { ...what, durationMs: ms },
        'slow answer: Slack would have given up after 3 seconds (operation_timeout)',
      );
    }
    return { result, ms };
  }

  /** A slash command typed in the channel. */
  async command(user: UserId, command: string, text: string): Promise<DoorAnswer> {
    const { slack } = this.options;
    const body = slashCommandBody({
      command,
      text,
      user: { id: user, name: SANDBOX_USERS[user].name },
      channel: ALERT_CHANNEL.id,
      responseUrl: slack.responseUrl(undefined, { channel: ALERT_CHANNEL.id, user }),
      triggerId: this.newTrigger(user),
    });
    const { result, ms } = await this.send(body, { slackUser: user, command });
    const status = result.statusCode ?? 200;
    if (status !== 200 || ms > SLACK_TIMEOUT_MS) {
      const error = status !== 200 ? 'dispatch_failed' : 'operation_timeout';
      slack.addEphemeral(ALERT_CHANNEL.id, user, `${command} failed with the error "${error}"`);
      return { ok: false, status, error: `${command} failed with the error "${error}"`, durationMs: ms };
    }
    const answer = parseBody(result);
    if (answer) {
      const text = typeof answer === 'string' ? answer : String(answer.text ?? '');
      const blocks = typeof answer === 'string' ? [] : ((answer.blocks as unknown[]) ?? []);
      if (text || blocks.length > 0) {
        if (typeof answer !== 'string' && answer.response_type === 'in_channel') {
          await fetch(slack.responseUrl(undefined, { channel: ALERT_CHANNEL.id, user }), {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ response_type: 'in_channel', text, blocks }),
          });
        } else {
          slack.addEphemeral(ALERT_CHANNEL.id, user, text, blocks);
        }
      }
    }
    return { ok: true, status, durationMs: ms };
  }

  /** A button, select or overflow used on a message. */
  async messageAction(
    user: UserId,
    action: { channel: string; ts: string; blockId: string; actionId: string; value?: string | null },
  ): Promise<DoorAnswer> {
    const { slack } = this.options;
    const message = slack.messages.get(`${action.channel}/${action.ts}`);
    if (!message || (message.ephemeralTo && message.ephemeralTo !== user)) {
      return { ok: false, status: 404, error: 'That message is gone.', durationMs: 0 };
    }
    const blocks = withIds(message.blocks as Block[]);
    const element = findElement(blocks, action.blockId, action.actionId);
    if (!element) return { ok: false, status: 404, error: 'That button is no longer there.', durationMs: 0 };
    const isEphemeral = Boolean(message.ephemeralTo);
    const payload: Json = {
      type: 'block_actions',
      user: slackUser(user),
      api_app_id: APP_ID,
      token: 'deprecated-verification-token',
      container: {
        type: 'message',
        message_ts: message.ts,
        channel_id: message.channel,
        is_ephemeral: isEphemeral,
      },
      trigger_id: this.newTrigger(user),
      team: TEAM,
      enterprise: null,
      is_enterprise_install: false,
      channel: {
        id: message.channel,
        name:
          [ALERT_CHANNEL, ...TEAM_CHANNELS].find((c) => c.id === message.channel)?.name ?? 'directmessage',
      },
      // Slack leaves the message out for ephemeral messages.
      ...(isEphemeral ? {} : { message: messagePayload(message) }),
      state: { values: viewState(blocks, {}) },
      response_url: slack.responseUrl(undefined, {
        channel: message.channel,
        user,
        messageTs: message.ts,
        ...(message.threadTs ? { threadTs: message.threadTs } : {}),
      }),
      actions: [actionPayload(element, action.blockId, action.value ?? null)],
    };
    const { result, ms } = await this.send(form(payload), {
      slackUser: user,
      actionId: action.actionId,
      messageTs: message.ts,
    });
    const status = result.statusCode ?? 200;
    return status === 200
      ? { ok: true, status, durationMs: ms }
      : { ok: false, status, error: `sg-warden answered HTTP ${status}.`, durationMs: ms };
  }

  /** A button or select used inside an open modal. */
  async viewAction(
    user: UserId,
    action: { viewId: string; blockId: string; actionId: string; value?: string | null },
    inputs: Record<string, Record<string, InputValue>>,
  ): Promise<DoorAnswer> {
    const view = this.options.slack.views.get(action.viewId) as Block | undefined;
    // A modal of this person's, or their Home tab.
    if (!view || (this.viewOwner(action.viewId) !== user && this.homeOwner(action.viewId) !== user)) {
      return { ok: false, status: 404, error: 'That dialog is closed.', durationMs: 0 };
    }
    const blocks = withIds((view.blocks ?? []) as Block[]);
    const element = findElement(blocks, action.blockId, action.actionId);
    if (!element) return { ok: false, status: 404, error: 'That control is no longer there.', durationMs: 0 };
    const info = this.options.slack.viewInfo.get(action.viewId);
    const payload: Json = {
      type: 'block_actions',
      user: slackUser(user),
      api_app_id: APP_ID,
      token: 'deprecated-verification-token',
      container: { type: 'view', view_id: action.viewId },
      // The view's trigger stays the opener's: views.push from here stacks on this modal. (A Home tab was
      // opened by no trigger: each press brings its own, as in Slack.)
      trigger_id: info?.triggerId || this.newTrigger(user),
      team: TEAM,
      enterprise: null,
      is_enterprise_install: false,
      view: this.viewPayload(action.viewId, view, inputs),
      actions: [actionPayload(element, action.blockId, action.value ?? null)],
    };
    const { result, ms } = await this.send(form(payload), { slackUser: user, actionId: action.actionId });
    const status = result.statusCode ?? 200;
    return status === 200
      ? { ok: true, status, durationMs: ms }
      : { ok: false, status, error: `sg-warden answered HTTP ${status}.`, durationMs: ms };
  }

  /** The modal's submit button: the bot answers with nothing (close), errors, update, push or clear. */
  async submitView(
    user: UserId,
    viewId: string,
    inputs: Record<string, Record<string, InputValue>>,
  ): Promise<DoorAnswer> {
    const { slack } = this.options;
    const view = slack.views.get(viewId) as Block | undefined;
    if (!view || this.viewOwner(viewId) !== user || slack.viewInfo.get(viewId)?.closed) {
      return { ok: false, status: 404, error: 'That dialog is closed.', durationMs: 0 };
    }
    const info = slack.viewInfo.get(viewId)!;
    const payload: Json = {
      type: 'view_submission',
      team: TEAM,
      user: slackUser(user),
      api_app_id: APP_ID,
      token: 'deprecated-verification-token',
      trigger_id: this.newTrigger(user),
      view: this.viewPayload(viewId, view, inputs),
      response_urls: [],
      is_enterprise_install: false,
      enterprise: null,
    };
    const { result, ms } = await this.send(form(payload), {
      slackUser: user,
      callbackId: view.callback_id,
      viewId,
    });
    const status = result.statusCode ?? 200;
    if (status !== 200 || ms > SLACK_TIMEOUT_MS) {
      // Slack keeps the modal open and says it could not reach the app.
      return {
        ok: false,
        status,
        error: 'We had some trouble connecting. Try again?',
        durationMs: ms,
      };
    }
    const answer = parseBody(result);
    const action = typeof answer === 'object' && answer ? answer.response_action : undefined;
    if (action === 'errors' && typeof answer === 'object' && answer) {
      return { ok: false, status, errors: (answer.errors ?? {}) as Record<string, string>, durationMs: ms };
    }
    if ((action === 'update' || action === 'push') && typeof answer === 'object' && answer) {
      // What Slack does with these answers, done through the Web API so the page hears of it.
      await this.callSlack(
        action === 'update' ? 'views.update' : 'views.push',
        action === 'update'
          ? { view_id: viewId, view: answer.view }
          : { trigger_id: info.triggerId, view: answer.view },
      );
      return { ok: true, status, durationMs: ms };
    }
    if (action === 'clear') {
      for (const [id, other] of slack.viewInfo) if (other.triggerId === info.triggerId) slack.closeView(id);
      return { ok: true, status, durationMs: ms };
    }
    slack.closeView(viewId);
    return { ok: true, status, durationMs: ms };
  }

  /** The modal's Cancel / ×: tells the bot when the view asked for it (notify_on_close). */
  async closeView(user: UserId, viewId: string): Promise<DoorAnswer> {
    const { slack } = this.options;
    const view = slack.views.get(viewId) as Block | undefined;
    if (!view || this.viewOwner(viewId) !== user) return { ok: true, status: 200, durationMs: 0 };
    slack.closeView(viewId);
    if (!view.notify_on_close) return { ok: true, status: 200, durationMs: 0 };
    const payload: Json = {
      type: 'view_closed',
      team: TEAM,
      user: slackUser(user),
      api_app_id: APP_ID,
      token: 'deprecated-verification-token',
      view: this.viewPayload(viewId, view, {}),
      is_cleared: false,
      is_enterprise_install: false,
    };
    const { result, ms } = await this.send(form(payload), { slackUser: user, closed: viewId });
    return { ok: result.statusCode === 200, status: result.statusCode ?? 200, durationMs: ms };
  }

  private async callSlack(method: string, args: Json): Promise<void> {
    const out = await fetch(`${this.options.slack.apiUrl}${method}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.options.botToken}` },
      body: JSON.stringify(args),
    });
    await out.arrayBuffer();
  }

  private viewPayload(viewId: string, view: Block, inputs: Record<string, Record<string, InputValue>>): Json {
    const info = this.options.slack.viewInfo.get(viewId);
    let root = viewId;
    while (true) {
      const parent = this.options.slack.viewInfo.get(root)?.parentId;
      if (!parent) break;
      root = parent;
    }
    return {
      ...view,
      id: viewId,
      team_id: TEAM.id,
      app_id: APP_ID,
      bot_id: 'B0SGWARDEN',
      blocks: withIds((view.blocks ?? []) as Block[]),
      private_metadata: view.private_metadata ?? '',
      callback_id: view.callback_id ?? '',
      state: { values: viewState((view.blocks ?? []) as Block[], inputs) },
      hash: `${Math.floor(Date.now() / 1000)}.${randomBytes(4).toString('hex')}`,
      previous_view_id: info?.parentId ?? null,
      root_view_id: root,
      external_id: view.external_id ?? '',
      app_installed_team_id: TEAM.id,
    };
  }
}

function findElement(blocks: Block[], blockId: string, actionId: string): Block | undefined {
  const block = blocks.find((b) => b.block_id === blockId);
  if (!block) return undefined;
  const candidates: Block[] = [
    ...(Array.isArray(block.elements) ? block.elements : []),
    ...(block.accessory ? [block.accessory] : []),
    ...(block.element ? [block.element] : []),
  ];
  return candidates.find((e) => e?.action_id === actionId);
}

function actionPayload(element: Block, blockId: string, value: string | null): Json {
  const base = {
    action_id: element.action_id,
    block_id: blockId,
    type: element.type,
    action_ts: (Date.now() / 1000).toFixed(6),
  };
  if (element.type === 'button') {
    return {
      ...base,
      text: element.text,
      ...(element.value !== undefined ? { value: element.value } : {}),
      ...(element.style ? { style: element.style } : {}),
    };
  }
  if (element.type === 'static_select' || element.type === 'overflow' || element.type === 'radio_buttons') {
    return { ...base, selected_option: value ? findOption(element, value) : null };
  }
  return { ...base, value };
}

function messagePayload(message: EmulatedMessage): Json {
  return {
    type: 'message',
    subtype: 'bot_message',
    text: message.text,
    ts: message.ts,
    bot_id: 'B0SGWARDEN',
    app_id: APP_ID,
    team: TEAM.id,
    blocks: message.blocks,
    ...(message.threadTs ? { thread_ts: message.threadTs } : {}),
  };
}

function parseBody(result: APIGatewayProxyStructuredResultV2): Json | string | null {
  const body = result.body ?? '';
  if (body === '') return null;
  try {
    const parsed = JSON.parse(body) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as Json) : String(parsed);
  } catch {
    return body;
  }
}
