import type { KnownBlock } from '@slack/types';
import type { WebClient } from '@slack/web-api';
import { homeOwnerOf } from '../services/home/items';
import type { Job } from '../services/jobs/jobs';
import type { Logger } from '../services/shared/logger';
import { textMessage } from './blocks/kit';

/** How a background job answers the person who asked. */
export class Replier {
  constructor(
    private readonly client: WebClient,
    private readonly job: Job,
    private readonly logger: Logger,
  ) {}

  /**
   * An answer only the asker sees: through response_url when there is one, else chat.postEphemeral.
   * Without blocks the text travels as verbatim sections too (slack/blocks/kit.ts: no automatic links).
   */
  async ephemeral(text: string, blocks: KnownBlock[] = textMessage(text).blocks): Promise<void> {
    const { reply, actor } = this.job;
    if (reply.responseUrl) {
      const ok = await this.postResponseUrl({
        response_type: 'ephemeral',
        replace_original: false,
        text,
        ...(blocks.length > 0 ? { blocks } : {}),
      });
      if (ok) return;
    }
    if (homeOwnerOf({ channel: reply.channel ?? '' })) {
      // A press on the Home tab: Slack gives no response_url there; the answer is a message from the app.
      await this.client.chat.postMessage({
        channel: actor.id,
        text,
        ...(blocks.length > 0 ? { blocks } : {}),
      });
      return;
    }
    if (reply.channel) {
      await this.client.chat.postEphemeral({
        channel: reply.channel,
        user: actor.id,
        text,
        ...(blocks.length > 0 ? { blocks } : {}),
        ...(reply.threadTs ? { thread_ts: reply.threadTs } : {}),
      });
    }
  }

  /** A message in the thread of the message the request came from (or the given thread). */
  async inThread(
    text: string,
    blocks: KnownBlock[] = textMessage(text).blocks,
    threadTs?: string,
  ): Promise<string | undefined> {
    const { reply } = this.job;
    const ts = threadTs ?? reply.threadTs ?? reply.messageTs;
    if (!reply.channel || homeOwnerOf({ channel: reply.channel })) return undefined;
    const out = await this.client.chat.postMessage({
      channel: reply.channel,
      text,
      ...(blocks.length > 0 ? { blocks } : {}),
      ...(ts ? { thread_ts: ts } : {}),
      unfurl_links: false,
    });
    return out.ts;
  }

  private async postResponseUrl(body: Record<string, unknown>): Promise<boolean> {
    try {
      const res = await fetch(this.job.reply.responseUrl!, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(5000),
      });
      return res.ok;
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'response_url post failed');
      return false;
    }
  }
}
