import type { WebClient } from '@slack/web-api';
import type { Config } from '../../services/config/config';
import type { SessionNotifier } from '../../services/sessions/deps';
import type { SessionsItem } from '../../services/sessions/items';
import { sessionsEndedMessage } from '../blocks/sessions';

/**
 * Tells how many sessions an end-sessions command closed: the grant's owner by direct message, or the
 * revoked violation's alert thread (the alert channel when its message is unknown). Built once in
 * handlers/wiring.ts.
 */
export class SlackSessionNotifier implements SessionNotifier {
  private readonly client: () => Promise<WebClient>;
  private readonly config: Config;

  constructor(options: { client: () => Promise<WebClient>; config: Config }) {
    this.client = options.client;
    this.config = options.config;
  }

  async sessionsEnded(item: SessionsItem): Promise<void> {
    const message = sessionsEndedMessage(item);
    const where =
      item.notify.kind === 'owner'
        ? { channel: item.notify.userId }
        : item.notify.ref
          ? { channel: item.notify.ref.channel, thread_ts: item.notify.ref.ts }
          : { channel: this.config.slack.alertChannel };
    await (await this.client()).chat.postMessage({ ...where, ...message, unfurl_links: false });
  }
}
