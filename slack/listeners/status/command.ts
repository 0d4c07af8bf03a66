import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from '@slack/bolt';
import type { Config } from '../../../services/config/config';
import { statusHelp } from '../../blocks/status';
import { parseStatusCommand } from '../../commands/status';
import type { SlackDeps } from '../../deps';
import { type JobSpec, type SlackBody, slashCommand } from '../../jobs/sources';
import { handOff } from '../handoff';
import { commandPerson } from '../payload';
import { StatusJobs } from './jobs';

type CommandArgs = SlackCommandMiddlewareArgs & AllMiddlewareArgs;

/** The job of `/sg-status …` (help is answered by the door itself and asks for no job). */
export function statusJob(body: SlackBody, config: Config): JobSpec | null {
  const command = slashCommand(body, '/sg-status');
  if (!command) return null;
  const parsed = parseStatusCommand(command.text ?? '', Object.keys(config.whitelist.targets));
  if (parsed.kind === 'help') return null;
  const args =
    parsed.kind === 'group'
      ? { view: 'group', groupId: parsed.groupId, alias: parsed.alias, region: parsed.region }
      : parsed.kind === 'audit'
        ? { view: 'audit', subjectId: parsed.subjectId }
        : { view: 'overview' };
  return {
    kind: StatusJobs.status,
    actor: commandPerson(command),
    reply: { channel: command.channel_id, responseUrl: command.response_url },
    args,
  };
}

/** `/sg-status`: help in the ack; every view (DynamoDB, EC2) is read by the worker. */
export function statusCommand(deps: SlackDeps) {
  return async function onStatus({ command, ack, respond }: CommandArgs): Promise<void> {
    const parsed = parseStatusCommand(command.text ?? '', Object.keys(deps.config.whitelist.targets));
    if (parsed.kind === 'help') {
      const help = statusHelp(parsed.note);
      await ack({ response_type: 'ephemeral', text: help.text, blocks: help.blocks });
      return;
    }
    await ack();
    await handOff(deps, StatusJobs.status, respond);
  };
}
