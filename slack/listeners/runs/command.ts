import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from '@slack/bolt';
import type { RunItem } from '../../../services/runs/items';
import { listRunbooks, parseRequest, requestRun, runStatus, specFor } from '../../../services/runs/runs';
import { runbookListText, runHelpText, runStatusText } from '../../blocks/run';
import type { SlackDeps } from '../../deps';
import type { JobRunner } from '../../jobs';
import { runDeps } from '../../run-notifier';
import { handOff } from '../handoff';
import { commandPerson, personOf } from '../payload';
import { answerFor, RunJobs } from './common';

type CommandArgs = SlackCommandMiddlewareArgs & AllMiddlewareArgs;

/**
 * `/sg-run …`: `help` is answered at once; everything else is acked and handed to the worker, which
 * parses, checks and audits (so a refused attempt is on record) and answers through response_url.
 */
export function sgRunCommand(deps: SlackDeps) {
  return async function onSgRun({ command, ack, respond }: CommandArgs): Promise<void> {
    const text = command.text ?? '';
    if (text.trim() === '' || text.trim() === 'help') {
      await ack({ response_type: 'ephemeral', text: runHelpText() });
      return;
    }
    await ack();
    await handOff(
      deps,
      {
        kind: RunJobs.command,
        actor: commandPerson(command),
        reply: { channel: command.channel_id, responseUrl: command.response_url },
        args: { text, channel: command.channel_id },
      },
      respond,
    );
  };
}

function approversOf(deps: SlackDeps, run: RunItem) {
  return specFor(deps.config, run.adHoc ? 'adhoc' : run.runbook)?.approvers ?? null;
}

/** The worker side of `/sg-run …`. */
export const runCommandJob: JobRunner = async (job, deps, reply) => {
  const actor = personOf(job);
  const channel = typeof job.args.channel === 'string' ? job.args.channel : (job.reply.channel ?? '');
  const services = runDeps(deps);
  const request = await parseRequest(services, actor, String(job.args.text ?? ''), channel);
  switch (request.kind) {
    case 'help':
      await reply.ephemeral(runHelpText());
      return;
    case 'list':
      await reply.ephemeral(runbookListText(await listRunbooks(services, actor)));
      return;
    case 'status': {
      const run = await runStatus(services, request.runId, actor);
      await reply.ephemeral(runStatusText(run, approversOf(deps, run)));
      return;
    }
    default: {
      const run = await requestRun(services, actor, request, channel);
      await reply.ephemeral(answerFor(run));
    }
  }
};
