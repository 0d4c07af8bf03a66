import type { ErrorCode, WebClient } from '@slack/web-api';
import { RateLimitedError } from '../services/shared/errors';
import type { MessageRef } from '../services/shared/ports';
import type { AlertNotifier, AlertView, DigestView, RevokeFailure } from '../services/violations/ports';
import { alertBlocks, alertText, revokeFailureText } from './blocks/alert';
import { digestBlocks, digestText, fitsDigest } from './blocks/digest';
import { textMessage } from './blocks/kit';

/**
 * `ErrorCode.RateLimitedError` spelled out (the type checks it), so that this module does not load the
 * Web API package: detection and the sweeper load it only when they post.
 */
const RATE_LIMITED: `${ErrorCode.RateLimitedError}` = 'slack_webapi_rate_limited_error';

/** Turns Slack's rate-limit rejection into the domain's RateLimitedError (other errors pass through). */
export async function withRateLimit<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const e = error as { code?: string; retryAfter?: number };
    if (e.code === RATE_LIMITED) {
      throw new RateLimitedError('Slack is rate-limiting this channel', {
        retryAfterSeconds: e.retryAfter ?? 1,
        cause: error,
      });
    }
    throw error;
  }
}

/** The metadata event type on alert messages: how a post of unknown outcome is found again. */
export const ALERT_EVENT_TYPE = 'sg_warden_alert';
/** The metadata event type on digest messages (payload: the digest's ID). */
export const DIGEST_EVENT_TYPE = 'sg_warden_digest';
/** History pages read when looking for a message (the window is minutes, so one page is the norm). */
const MAX_HISTORY_PAGES = 5;

/** Posts and updates alert messages through Slack's Web API. */
export class SlackNotifier implements AlertNotifier {
  private readonly client: WebClient;

  constructor(options: { client: WebClient }) {
    this.client = options.client;
  }

  async postAlert(channel: string, view: AlertView): Promise<MessageRef> {
    const message = {
      channel,
      text: alertText(view),
      blocks: alertBlocks(view),
      unfurl_links: false,
      metadata: { event_type: ALERT_EVENT_TYPE, event_payload: { alert_id: view.alert.alertId } },
    };
    const thread = view.alert.thread;
    const out = await withRateLimit(() =>
      this.client.chat.postMessage(
        // A kept rule asked again: in the thread where it was kept, and shown in the channel too.
        thread ? { ...message, thread_ts: thread.ts, reply_broadcast: true } : message,
      ),
    );
    if (!out.ts || !out.channel) throw new Error('Slack answered chat.postMessage without channel and ts');
    return { channel: out.channel, ts: out.ts };
  }

  /** Looks through the channel's messages since `since` for the one carrying this alert's metadata. */
  async findAlert(channel: string, alertId: string, since: string): Promise<MessageRef | null> {
    return this.findMessage(channel, ALERT_EVENT_TYPE, 'alert_id', alertId, since);
  }

  async postDigest(channel: string, view: DigestView): Promise<MessageRef> {
    const out = await withRateLimit(() =>
      this.client.chat.postMessage({
        channel,
        text: digestText(view),
        blocks: digestBlocks(view),
        unfurl_links: false,
        metadata: { event_type: DIGEST_EVENT_TYPE, event_payload: { digest_id: view.digest.digestId } },
      }),
    );
    if (!out.ts || !out.channel) throw new Error('Slack answered chat.postMessage without channel and ts');
    return { channel: out.channel, ts: out.ts };
  }

  async updateDigest(ref: MessageRef, view: DigestView): Promise<void> {
    await withRateLimit(() =>
      this.client.chat.update({
        channel: ref.channel,
        ts: ref.ts,
        text: digestText(view),
        blocks: digestBlocks(view),
      }),
    );
  }

  /** Looks through the channel's messages since `since` for the one carrying this digest's metadata. */
  async findDigest(channel: string, digestId: string, since: string): Promise<MessageRef | null> {
    return this.findMessage(channel, DIGEST_EVENT_TYPE, 'digest_id', digestId, since);
  }

  fitsDigest(view: DigestView): boolean {
    return fitsDigest(view);
  }

  private async findMessage(
    channel: string,
    eventType: string,
    field: string,
    value: string,
    since: string,
  ): Promise<MessageRef | null> {
    const oldest = (new Date(since).getTime() / 1000).toFixed(6);
    let cursor: string | undefined;
    for (let page = 0; page < MAX_HISTORY_PAGES; page++) {
      const out = await withRateLimit(() =>
        this.client.conversations.history({
          channel,
          oldest,
          limit: 200,
          include_all_metadata: true,
          ...(cursor ? { cursor } : {}),
        }),
      );
      const found = (out.messages ?? []).find(
        (m) =>
          m.metadata?.event_type === eventType &&
          (m.metadata.event_payload as Record<string, unknown> | undefined)?.[field] === value,
      );
      if (found?.ts) return { channel, ts: found.ts };
      cursor = out.response_metadata?.next_cursor || undefined;
      if (!out.has_more || !cursor) return null;
    }
    return null;
  }

  async updateAlert(ref: MessageRef, view: AlertView): Promise<void> {
    // A rate limit on an update is retried when Slack says (the message stays due), not as a failure.
    await withRateLimit(() =>
      this.client.chat.update({
        channel: ref.channel,
        ts: ref.ts,
        text: alertText(view),
        blocks: alertBlocks(view),
      }),
    );
  }

  async postRevokeFailure(channel: string, failure: RevokeFailure, threadTs?: string): Promise<void> {
    await this.client.chat.postMessage({
      channel,
      ...textMessage(revokeFailureText(failure)),
      ...(threadTs ? { thread_ts: threadTs } : {}),
      unfurl_links: false,
    });
  }
}
