import type { Job } from '../../../services/jobs/jobs';
import type { RunDeps } from '../../../services/runs/deps';
import type { RunItem } from '../../../services/runs/items';
import { RUN_ID } from '../../../services/runs/params';
import { BadInputError } from '../../../services/shared/errors';
import type { SlackDeps } from '../../deps';
import { code, escapeMrkdwn } from '../../mrkdwn';

/** Job kinds `/sg-run` hands to the worker. */
export const RunJobs = {
  command: 'run.command',
  approve: 'run.approve',
  reject: 'run.reject',
  showCommand: 'run.show-command',
} as const;

/** The run a button's job names; a value that is not a run ID is refused. */
export function runIdOf(job: Job): string {
  const runId = job.args.runId;
  if (typeof runId !== 'string' || !RUN_ID.test(runId))
    throw new BadInputError('This button does not name a run.');
  return runId;
}

/** The run services' dependencies from the Slack side's (the notifier is the one the wiring built). */
export function runDeps(deps: SlackDeps): RunDeps {
  return {
    config: deps.config,
    store: deps.store,
    clock: deps.clock,
    logger: deps.logger,
    directory: deps.directory,
    instances: deps.instances,
    commands: deps.commands,
    notifier: deps.runNotifier,
  };
}

/**
 * What the asker (or the approver) is told about a run that was just asked for or approved. `askedIn`
 * is the channel the request came from, when the run's message may be elsewhere (ad-hoc commands).
 */
export function answerFor(run: RunItem, askedIn?: string): string {
  const count = `${run.instanceIds.length} instance${run.instanceIds.length === 1 ? '' : 's'}`;
  switch (run.status) {
    case 'AWAITING_APPROVAL':
      return `:raised_hand: Run ${code(run.runId)} (${count}) waits for a second person's approval; the request is posted in ${run.channel && askedIn !== undefined && run.channel !== askedIn ? `<#${run.channel}>` : 'this channel'}.`;
    case 'RUNNING':
    case 'POLLING':
      return `:rocket: Run ${code(run.runId)} was sent to ${count}; results will appear in the thread of its message.`;
    case 'SEND_FAILED':
      return `:x: Run ${code(run.runId)} was not sent: ${escapeMrkdwn(run.lastError ?? 'SSM refused it')}`;
    default:
      return `Run ${code(run.runId)}: ${run.status}`;
  }
}
