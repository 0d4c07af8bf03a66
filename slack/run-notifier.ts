import type { WebClient } from '@slack/web-api';
import type { Config } from '../services/config/config';
import type { RunItem } from '../services/runs/items';
import { type RunDeps, type RunNote, type RunNotifier, specFor } from '../services/runs/runs';
import type { CommandInvocation, MessageRef } from '../services/shared/ports';
import { textMessage } from './blocks/kit';
import { runAnnouncement, runNoteText, runResultMessage } from './blocks/run';
import type { SlackDeps } from './deps';

/**
 * Tells Slack about runs: the announcement in the channel where the run was asked, and everything
 * else (results, output, notes) only in that message's thread — never in the alert channel.
 */
export class SlackRunNotifier implements RunNotifier {
  private readonly client: () => Promise<WebClient>;
  private readonly config: Config;

  constructor(options: { client: () => Promise<WebClient>; config: Config }) {
    this.client = options.client;
    this.config = options.config;
  }

  private approvers(run: RunItem) {
    return specFor(this.config, run.adHoc ? 'adhoc' : run.runbook)?.approvers ?? null;
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

/** The run service's dependencies from the Slack side's, optionally on another clock (the sweep's `now`). */
export function runDeps(deps: SlackDeps, clock: () => Date = deps.clock): RunDeps {
  return {
    config: deps.config,
    store: deps.store,
    clock,
    logger: deps.logger,
    directory: deps.directory,
    instances: deps.instances,
    commands: deps.commands,
    notifier: new SlackRunNotifier({ client: () => deps.slack(), config: deps.config }),
  };
}
