import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from '@slack/bolt';
import { whitelistHelp } from '../../blocks/grant';
import { textMessage } from '../../blocks/kit';
import { parseWhitelistCommand, type WhitelistCommand } from '../../commands/whitelist';
import type { SlackDeps } from '../../deps';
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
    const actor = commandPerson(command);
    if (parsed.kind === 'invalid') {
      await ack({ response_type: 'ephemeral', ...textMessage(`:warning: ${literal(parsed.message)}`) });
      // Answered at once; the worker puts the refusal (e.g. a wide range or a special address) on record.
      const [first = ''] = (command.text ?? '').trim().toLowerCase().split(/\s+/);
      const alias = Object.keys(deps.config.whitelist.targets).includes(first) ? first : null;
      await handOff(
        deps,
        {
          kind: WhitelistJobs.refused,
          actor,
          reply: {},
          args: { alias, reason: parsed.message, text: (command.text ?? '').slice(0, 200) },
        },
        async () => {},
      );
      return;
    }
    await ack();
    const { kind, args } = jobFor(parsed);
    await handOff(
      deps,
      {
        kind,
        actor,
        reply: { channel: command.channel_id, responseUrl: command.response_url },
        args,
      },
      respond,
    );
  };
}
