import type { WebClient } from '@slack/web-api';
import type { ActorNotifier, AskView, NeedNotice } from '../../services/actors/ports';
import type { MessageRef } from '../../services/shared/ports';
import { askMessage, needNoticeText } from '../blocks/actor-ask';
import { textMessage } from '../blocks/kit';

/**
 * Talks to a change's author: the direct message from the bot (chat.postMessage to the user's ID posts in
 * the app's DM with them; Slack answers with that DM's channel, D…, which every answer must come from),
 * and the author's reason in the alert's thread. Built once in handlers/wiring.ts.
 */
export class SlackActorNotifier implements ActorNotifier {
  private readonly client: () => Promise<WebClient>;

  constructor(options: { client: () => Promise<WebClient> }) {
    this.client = options.client;
  }

  async ask(user: string, view: AskView): Promise<MessageRef> {
    const out = await (await this.client()).chat.postMessage({
      channel: user,
      ...askMessage(view),
      unfurl_links: false,
    });
    if (!out.channel || !out.ts) throw new Error('Slack answered chat.postMessage without channel and ts');
    return { channel: out.channel, ts: out.ts };
  }

  async updateAsk(ref: MessageRef, view: AskView): Promise<void> {
    await (await this.client()).chat.update({ channel: ref.channel, ts: ref.ts, ...askMessage(view) });
  }

  async postNeed(alert: MessageRef, notice: NeedNotice): Promise<void> {
    await (await this.client()).chat.postMessage({
      channel: alert.channel,
      thread_ts: alert.ts,
      ...textMessage(needNoticeText(notice)),
      unfurl_links: false,
    });
  }
}
