import type { WebClient } from '@slack/web-api';
import type { Config } from '../services/config/config';
import type { GrantNotifier } from '../services/grants/grants';
import type { GrantItem } from '../services/grants/items';
import type { Logger } from '../services/shared/logger';
import {
  abandonedMessage,
  endedMessage,
  expiringMessage,
  revokeFailedMessage,
  type SlackMessage,
} from './blocks/grant';

/**
 * Tells people about their grants: a direct message from the bot (posting to a user ID opens the DM),
 * and the alert channel when a grant's rule could not be removed.
 */
export class SlackGrantNotifier implements GrantNotifier {
  private readonly client: () => Promise<WebClient>;
  private readonly config: Config;
  private readonly clock: () => Date;
  private readonly logger: Logger;

  constructor(options: {
    client: () => Promise<WebClient>;
    config: Config;
    clock: () => Date;
    logger: Logger;
  }) {
    this.client = options.client;
    this.config = options.config;
    this.clock = options.clock;
    this.logger = options.logger;
  }

  async expiring(grant: GrantItem, extendBy: number | null): Promise<void> {
    await this.direct(grant.userId, expiringMessage(grant, extendBy, this.clock()));
  }

  async ended(grant: GrantItem): Promise<void> {
    await this.direct(grant.userId, endedMessage(grant));
  }

  async revokeFailed(grant: GrantItem): Promise<void> {
    const message = revokeFailedMessage(grant);
    const results = await Promise.allSettled([
      this.direct(grant.userId, message),
      this.client().then((c) =>
        c.chat.postMessage({ channel: this.config.slack.alertChannel, ...message, unfurl_links: false }),
      ),
    ]);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  async abandoned(grant: GrantItem, rulesRemoved: number): Promise<void> {
    await this.direct(grant.userId, abandonedMessage(grant, rulesRemoved));
  }

  /**
   * Tells a user something only they should see: ephemerally in the channel they asked from, or in a
   * direct message when that is not possible (the bot is not in the channel, or there is none).
   */
  async privately(userId: string, channel: string | undefined, message: SlackMessage): Promise<void> {
    if (channel) {
      try {
        await (await this.client()).chat.postEphemeral({ channel, user: userId, ...message });
        return;
      } catch (error) {
        this.logger.info({ channel, err: (error as Error).message }, 'ephemeral not posted; sending a DM');
      }
    }
    await this.direct(userId, message);
  }

  private async direct(userId: string, message: SlackMessage): Promise<void> {
    await (await this.client()).chat.postMessage({ channel: userId, ...message, unfurl_links: false });
  }
}
