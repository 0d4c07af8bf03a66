import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from '@slack/bolt';
import type { Config } from '../../../services/config/config';
import { refusalText } from '../../../services/kernel/refusal';
import { whitelistHelp } from '../../blocks/grant';
import { textMessage } from '../../blocks/kit';
import { parseWhitelistCommand, type WhitelistCommand } from '../../commands/whitelist';
import type { SlackDeps } from '../../deps';
import { type JobSpec, type SlackBody, slashCommand } from '../../jobs/sources';
import { literal } from '../../mrkdwn';
import { handOff } from '../handoff';
import { commandPerson } from '../payload';
import { WhitelistJobs } from './jobs';

type CommandArgs = SlackCommandMiddlewareArgs & AllMiddlewareArgs;

function jobFor(command: Exclude<WhitelistCommand, { kind: 'help' } | { kind: 'invalid' }>): {
  kind: string;
  args: Record<string, unknown>;
} {
  switch (command.kind) {
    case 'list':
      return { kind: WhitelistJobs.list, args: {} };
    case 'revoke':
      return { kind: WhitelistJobs.revoke, args: { grantId: command.grantId } };
    case 'extend':
      return {
        kind: WhitelistJobs.extend,
        args: { grantId: command.grantId, durationSeconds: command.durationSeconds },
      };
    case 'grant':
      return {
        kind: command.isLink ? WhitelistJobs.link : WhitelistJobs.grant,
        args: {
          alias: command.alias,
          address: command.address,
          port: command.port,
          durationSeconds: command.durationSeconds,
        },
      };
  }
}

/**
 * The job of `/sg-whitelist …`: help asks for none (answered in the ack); a request the door refused while
 * reading it asks for its refusal to be audited; anything else for the worker to act and answer.
 */
export function whitelistJob(body: SlackBody, config: Config): JobSpec | null {
  const command = slashCommand(body, '/sg-whitelist');
  if (!command) return null;
  const text = command.text ?? '';
  const aliases = Object.keys(config.whitelist.targets);
  const parsed = parseWhitelistCommand(text, aliases);
  if (parsed.kind === 'help') return null;
  const actor = commandPerson(command);
  if (parsed.kind === 'invalid') {
    const [first = ''] = text.trim().toLowerCase().split(/\s+/);
    return {
      kind: WhitelistJobs.refused,
      actor,
      reply: {},
      args: {
        alias: aliases.includes(first) ? first : null,
        reason: parsed.message,
        text: text.slice(0, 200),
      },
    };
  }
  const { kind, args } = jobFor(parsed);
  return { kind, actor, reply: { channel: command.channel_id, responseUrl: command.response_url }, args };
}

/**
 * `/sg-whitelist`: help and malformed requests are answered in the ack itself (pure parsing); anything
 * that needs Slack's directory, DynamoDB or EC2 is handed to the worker, which answers via response_url.
 */
export function whitelistCommand(deps: SlackDeps) {
  return async function onWhitelist({ command, ack, respond }: CommandArgs): Promise<void> {
    const parsed = parseWhitelistCommand(command.text ?? '', Object.keys(deps.config.whitelist.targets));
    if (parsed.kind === 'help') {
      const help = whitelistHelp(deps.config, parsed.note);
      await ack({ response_type: 'ephemeral', text: help.text, blocks: help.blocks });
      return;
    }
    if (parsed.kind === 'invalid') {
      await ack({
        response_type: 'ephemeral',
        ...textMessage(`:warning: ${literal(refusalText({ code: 'BAD_INPUT', message: parsed.message }))}`),
      });
      // Answered at once; the worker puts the refusal (e.g. a wide range or a special address) on record.
      await handOff(deps, WhitelistJobs.refused, async () => {});
      return;
    }
    await ack();
    await handOff(deps, jobFor(parsed).kind, respond);
  };
}
