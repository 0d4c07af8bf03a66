import type { WebClient } from '@slack/web-api';
import type {
  EscalationNotice,
  ReminderNotice,
  ReminderNotifier,
  UndecidedLine,
} from '../../services/decisions/reminders';
import type { MessageRef } from '../../services/shared/ports';
import type { SlackMessage } from '../blocks/kit';
import { escalationMessage, reminderMessage, undecidedMessage } from '../blocks/reminder';
import { withRateLimit } from '../notifier';

/** A link to a message when Slack gives none: Slack's archives address opens it in the workspace. */
export function builtLink(ref: MessageRef): string {
  return `https://slack.com/archives/${ref.channel}/p${ref.ts.replace('.', '')}`;
}

/**
 * Posts reminders (a reply in the alert's thread), escalations (with a link to the alert, from
 * chat.getPermalink, or built when Slack cannot give one) and the weekly undecided line. Built by
 * handlers/wiring.ts for the sweeper.
 */
export class SlackReminderNotifier implements ReminderNotifier {
  private readonly client: () => Promise<WebClient>;

  constructor(options: { client: () => Promise<WebClient> }) {
    this.client = options.client;
  }

  async remind(notice: ReminderNotice): Promise<MessageRef> {
    const message = reminderMessage(notice);
    return this.post(notice.thread.channel, message, notice.thread.ts);
  }

  async escalate(notice: EscalationNotice): Promise<{ ref: MessageRef; link: string }> {
    const link = await this.permalink(notice.alert);
    const ref = await this.post(notice.channel, escalationMessage(notice, link));
    return { ref, link };
  }

  async undecided(line: UndecidedLine): Promise<MessageRef> {
    const links = await Promise.all(
      line.oldest.map((v) =>
        v.channel && v.ts ? this.permalink({ channel: v.channel, ts: v.ts }) : Promise.resolve(''),
      ),
    );
    return this.post(line.channel, undecidedMessage(line, links));
  }

  /** The message's permalink; a built link when Slack will not say (the escalation must still go out). */
  private async permalink(ref: MessageRef): Promise<string> {
    try {
      const client = await this.client();
      const out = await client.chat.getPermalink({ channel: ref.channel, message_ts: ref.ts });
      if (out.permalink) return out.permalink;
    } catch {
      // A link we build is as good for a person; the post matters more.
    }
    return builtLink(ref);
  }

  private async post(channel: string, message: SlackMessage, threadTs?: string): Promise<MessageRef> {
    const client = await this.client();
    const out = await withRateLimit(() =>
      client.chat.postMessage({
        channel,
        text: message.text,
        blocks: message.blocks,
        unfurl_links: false,
        ...(threadTs ? { thread_ts: threadTs } : {}),
      }),
    );
    if (!out.ts || !out.channel) throw new Error('Slack answered chat.postMessage without channel and ts');
    return { channel: out.channel, ts: out.ts };
  }
}
