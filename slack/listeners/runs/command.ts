import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from '@slack/bolt';
import type { RunItem } from '../../../services/runs/items';
import { parseRequest, requestRun } from '../../../services/runs/request';
import { listRunbooks, specOf } from '../../../services/runs/spec';
import { runStatus } from '../../../services/runs/status';
import { runbookListText, runHelpText, runStatusText } from '../../blocks/run';
import type { SlackDeps } from '../../deps';
import type { JobRunner } from '../../jobs';
import { type JobSpec, type SlackBody, slashCommand } from '../../jobs/sources';
import { handOff } from '../handoff';
import { commandPerson, personOf } from '../payload';
import { answerFor, RunJobs, runDeps } from './common';

type CommandArgs = SlackCommandMiddlewareArgs & AllMiddlewareArgs;

function isHelp(text: string): boolean {
  return text.trim() === '' || text.trim() === 'help';
}

/** The job of `/sg-run …` (help is answered by the door itself and asks for no job). */
export function sgRunJob(body: SlackBody): JobSpec | null {
  const command = slashCommand(body, '/sg-run');
  const text = command?.text ?? '';
  if (!command || isHelp(text)) return null;
  return {
    kind: RunJobs.command,
    actor: commandPerson(command),
    reply: { channel: command.channel_id, responseUrl: command.response_url },
    args: { text, channel: command.channel_id },
  };
}

/**
 * `/sg-run …`: `help` is answered at once; everything else is acked and handed to the worker, which
 * parses, checks and audits (so a refused attempt is on record) and answers through response_url.
 */
export function sgRunCommand(deps: SlackDeps) {
  return async function onSgRun({ command, ack, respond }: CommandArgs): Promise<void> {
    if (isHelp(command.text ?? '')) {
      await ack({ response_type: 'ephemeral', text: runHelpText() });
      return;
    }
    await ack();
    await handOff(deps, RunJobs.command, respond);
  };
}

function approversOf(deps: SlackDeps, run: RunItem) {
  return specOf(deps.config, run)?.approvers ?? null;
}

/** The worker side of `/sg-run …`. */
export const runCommandJob: JobRunner = async (job, deps, reply) => {
  const person = personOf(job);
  const channel = typeof job.args.channel === 'string' ? job.args.channel : (job.reply.channel ?? '');
  const services = runDeps(deps);
  const request = await parseRequest(services, person, String(job.args.text ?? ''), channel);
  switch (request.kind) {
    case 'help':
      await reply.ephemeral(runHelpText());
      return;
    case 'list':
      await reply.ephemeral(runbookListText(await listRunbooks(services, person)));
      return;
    case 'status': {
      const run = await runStatus(services, request.runId, person);
      await reply.ephemeral(runStatusText(run, approversOf(deps, run)));
      return;
    }
    default: {
      const run = await requestRun(services, person, request, channel);
      await reply.ephemeral(answerFor(run, channel));
    }
  }
};
