import type { WebClient } from '@slack/web-api';
import type { Config } from '../../services/config/config';
import type { GrantChangeNotifier, RuleChange } from '../../services/grants/changed-rule';
import type { GrantNotifier, GrantSessions } from '../../services/grants/deps';
import type { GrantItem, LinkItem } from '../../services/grants/items';
import type { GrantOutcome } from '../../services/grants/plan';
import type { Refusal } from '../../services/kernel/refusal';
import type { Logger } from '../../services/shared/logger';
import type { Person } from '../../services/shared/people';
import {
  abandonedMessage,
  disownedMessage,
  endedMessage,
  expiringMessage,
  grantEndedByChangeMessage,
  linkRefusedMessage,
  linkUsedMessage,
  revokeFailedMessage,
  type SlackMessage,
} from '../blocks/grant';

/**
 * Tells people about their grants: a direct message from the bot (posting to a user ID opens the DM),
 * the channel a `me` link was asked from (ephemeral), and the alert channel when a grant's rule could
 * not be removed or its owner says a grant was not theirs. Built once in handlers/wiring.ts.
 */
export class SlackGrantNotifier implements GrantNotifier, GrantChangeNotifier {
  private readonly client: () => Promise<WebClient>;
  private readonly config: Config;
  private readonly logger: Logger;

  constructor(options: { client: () => Promise<WebClient>; config: Config; logger: Logger }) {
    this.client = options.client;
    this.config = options.config;
    this.logger = options.logger;
  }

  async expiring(grant: GrantItem, extendBy: number | null, now: Date): Promise<void> {
    await this.direct(grant.userId, expiringMessage(grant, extendBy, now));
  }

  async ended(grant: GrantItem, sessions: GrantSessions): Promise<void> {
    await this.direct(grant.userId, endedMessage(grant, sessions));
  }

  async revokeFailed(grant: GrantItem): Promise<void> {
    const message = revokeFailedMessage(grant);
    const results = await Promise.allSettled([
      this.direct(grant.userId, message),
      this.toAlertChannel(message),
    ]);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  async abandoned(grant: GrantItem, rulesRemoved: number): Promise<void> {
    await this.direct(grant.userId, abandonedMessage(grant, rulesRemoved));
  }

  async linkUsed(link: LinkItem, result: { outcome: GrantOutcome } | { refusal: Refusal }): Promise<void> {
    const message =
      'outcome' in result ? linkUsedMessage(result.outcome) : linkRefusedMessage(result.refusal);
    await this.privately(link.userId, link.channel, message);
  }

  async disowned(grant: GrantItem, by: Person): Promise<void> {
    await this.toAlertChannel(disownedMessage(grant, by));
  }

  /** The grant ended because someone changed its rule: the owner is told by direct message. */
  async grantEndedByChange(grant: GrantItem, change: RuleChange): Promise<void> {
    await this.direct(grant.userId, grantEndedByChangeMessage(grant, change));
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

  private async toAlertChannel(message: SlackMessage): Promise<void> {
    await (await this.client()).chat.postMessage({
      channel: this.config.slack.alertChannel,
      ...message,
      unfurl_links: false,
    });
  }
}
