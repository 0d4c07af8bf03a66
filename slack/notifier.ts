import type { WebClient } from '@slack/web-api';
import type { AlertNotifier, AlertView, MessageRef } from '../services/ports';
import { alertBlocks, alertText } from './blocks/alert';

/** Posts and updates alert messages through Slack's Web API. */
export class SlackNotifier implements AlertNotifier {
  private readonly client: WebClient;

  constructor(options: { client: WebClient }) {
    this.client = options.client;
  }

  async postAlert(channel: string, view: AlertView): Promise<MessageRef> {
    const out = await this.client.chat.postMessage({
      channel,
      text: alertText(view),
      blocks: alertBlocks(view),
      unfurl_links: false,
    });
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
