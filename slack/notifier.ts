import { ErrorCode, type WebClient } from '@slack/web-api';
import { RateLimitedError } from '../services/errors';
import type { AlertNotifier, AlertView, MessageRef } from '../services/ports';
import { alertBlocks, alertText } from './blocks/alert';

/** Turns Slack's rate-limit rejection into the domain's RateLimitedError (other errors pass through). */
async function withRateLimit<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const e = error as { code?: string; retryAfter?: number };
    if (e.code === ErrorCode.RateLimitedError) {
      throw new RateLimitedError('Slack is rate-limiting this channel', {
        retryAfterSeconds: e.retryAfter ?? 1,
        cause: error,
      });
    }
    throw error;
  }
}

/** Posts and updates alert messages through Slack's Web API. */
export class SlackNotifier implements AlertNotifier {
  private readonly client: WebClient;

  constructor(options: { client: WebClient }) {
    this.client = options.client;
  }

  async postAlert(channel: string, view: AlertView): Promise<MessageRef> {
    const out = await withRateLimit(() =>
      this.client.chat.postMessage({
        channel,
        text: alertText(view),
        blocks: alertBlocks(view),
        unfurl_links: false,
      }),
    );
    if (!out.ts || !out.channel) throw new Error('Slack answered chat.postMessage without channel and ts');
    return { channel: out.channel, ts: out.ts };
  }

  async updateAlert(ref: MessageRef, view: AlertView): Promise<void> {
    await this.client.chat.update({
      channel: ref.channel,
      ts: ref.ts,
      text: alertText(view),
      blocks: alertBlocks(view),
    });
  }

  async postNotice(channel: string, text: string, threadTs?: string): Promise<void> {
    await this.client.chat.postMessage({
      channel,
      text,
      ...(threadTs ? { thread_ts: threadTs } : {}),
      unfurl_links: false,
    });
  }
}
