import type { WebClient } from '@slack/web-api';
import type { Config } from '../../services/config/config';
import type { RunNote, RunNotifier } from '../../services/runs/deps';
import type { RunItem } from '../../services/runs/items';
import { specOf } from '../../services/runs/spec';
import type { CommandInvocation, MessageRef } from '../../services/shared/ports';
import { textMessage } from '../blocks/kit';
import { runAnnouncement, runNoteText, runResultMessage } from '../blocks/run';

/**
 * Tells Slack about runs: the announcement in the channel where the run was asked, and everything
 * else (results, output, notes) only in that message's thread — never in the alert channel. Built once
 * per container by handlers/wiring.ts and handed to the run services as their RunNotifier.
 */
export class SlackRunNotifier implements RunNotifier {
  private readonly client: () => Promise<WebClient>;
  private readonly config: Config;

  constructor(options: { client: () => Promise<WebClient>; config: Config }) {
    this.client = options.client;
    this.config = options.config;
  }

  private approvers(run: RunItem) {
    return specOf(this.config, run)?.approvers ?? null;
  }

  async announce(channel: string, run: RunItem): Promise<MessageRef> {
    const { text, blocks } = runAnnouncement(run, this.approvers(run));
    const out = await (await this.client()).chat.postMessage({ channel, text, blocks, unfurl_links: false });
    if (!out.ts || !out.channel) throw new Error('Slack answered chat.postMessage without channel and ts');
    return { channel: out.channel, ts: out.ts };
  }

  async refresh(run: RunItem): Promise<void> {
    if (!run.channel || !run.ts) return;
    const { text, blocks } = runAnnouncement(run, this.approvers(run));
    await (await this.client()).chat.update({ channel: run.channel, ts: run.ts, text, blocks });
  }

  async postResult(
    run: RunItem,
    instanceId: string,
    invocation: CommandInvocation,
  ): Promise<{ shownChars: number; cutChars: number }> {
    const { channel, ts } = threadOf(run);
    const message = runResultMessage(run, instanceId, invocation);
    await (await this.client()).chat.postMessage({
      channel,
      thread_ts: ts,
      text: message.text,
      blocks: message.blocks,
      unfurl_links: false,
      unfurl_media: false,
    });
    return { shownChars: message.shownChars, cutChars: message.cutChars };
  }

  async postNote(run: RunItem, note: RunNote): Promise<void> {
    const { channel, ts } = threadOf(run);
    await (await this.client()).chat.postMessage({
      channel,
      thread_ts: ts,
      ...textMessage(runNoteText(run, note)),
      unfurl_links: false,
    });
  }
}

function threadOf(run: RunItem): { channel: string; ts: string } {
  // Output goes only to the run's own thread: without one there is nowhere safe to post it.
  if (!run.channel || !run.ts) throw new Error(`run ${run.runId} has no message to reply in`);
  return { channel: run.channel, ts: run.ts };
}
