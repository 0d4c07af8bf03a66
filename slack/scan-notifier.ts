import type { WebClient } from '@slack/web-api';
import type { ScanNotifier, UnreadableTarget } from '../services/scan/ports';
import { textMessage } from './blocks/kit';
import { code, literal } from './mrkdwn';

/** The notice for an account and region the scan could not read (posted at most once a day for each). */
export function unreadableText(target: UnreadableTarget): string {
  return (
    `:warning: sg-warden's scan could not read account ${literal(target.account)} in ${literal(target.region)}: ` +
    `${code(target.error)}. Rules there were not checked by this scan (the rest of it went on; events are ` +
    `still evaluated). Check the function's (or the member role's) EC2 read permissions and that the region ` +
    `is enabled. Told once a day for each account and region; run ${code(target.runId)}.`
  );
}

/** Tells the alert channel what the scan could not read. Built once in handlers/wiring.ts. */
export class SlackScanNotifier implements ScanNotifier {
  private readonly client: () => Promise<WebClient>;

  constructor(options: { client: () => Promise<WebClient> }) {
    this.client = options.client;
  }

  async postUnreadable(channel: string, target: UnreadableTarget): Promise<void> {
    await (await this.client()).chat.postMessage({
      channel,
      ...textMessage(unreadableText(target)),
      unfurl_links: false,
    });
  }
}
