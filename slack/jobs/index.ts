import { claimJob, type Job } from '../../services/jobs/jobs';
import {
  BadInputError,
  describeError,
  NotAuthorisedError,
  NotFoundError,
  SgWardenError,
} from '../../services/shared/errors';
import type { SlackDeps } from '../deps';
import { escapeMrkdwn } from '../mrkdwn';
import { Replier } from '../replier';

/** Runs one kind of background job. */
export type JobRunner = (job: Job, deps: SlackDeps, reply: Replier) => Promise<void>;

const runners = new Map<string, JobRunner>();

/** Registers the runner for a job kind (each feature registers its own in slack/listeners/index.ts). */
export function registerJobRunner(kind: string, runner: JobRunner): void {
  runners.set(kind, runner);
}

/**
 * Runs a job handed off by the Slack door. Known errors reach the asker as one sentence and a code;
 * anything else as a generic sentence — never a stack trace. Errors are logged with the job's keys.
 */
export async function runJob(deps: SlackDeps, job: Job): Promise<void> {
  const logger = deps.logger.child({ job: job.kind, slackUser: job.actor.userId });
  const client = await deps.slack();
  const reply = new Replier(client, job, logger);
  const runner = runners.get(job.kind);
  if (!runner) {
    logger.error('no runner for job kind');
    await reply
      .ephemeral(`sg-warden cannot handle "${escapeMrkdwn(job.kind)}" requests (UNKNOWN_JOB).`)
      .catch(() => {});
    return;
  }
  try {
    if (!(await claimJob(deps.store, job, deps.clock()))) {
      // The same signed request came again (a replay within Slack's 5 minutes, or a twice-delivered
      // job): it was answered the first time, and acting again would repeat a revoke, a grant or a run.
      logger.warn({ requestId: job.requestId }, 'repeated slack request ignored');
      return;
    }
    await runner(job, deps, reply);
  } catch (error) {
    // A person's mistake (a bad value, not allowed, no such thing) is answered, not an error of ours.
    const isUserMistake =
      error instanceof BadInputError || error instanceof NotAuthorisedError || error instanceof NotFoundError;
    if (isUserMistake) logger.info({ err: describeError(error) }, 'job refused the request');
    else logger.error({ err: describeError(error) }, 'job failed');
    const sentence =
      error instanceof SgWardenError
        ? `${error.message} (${error.code})`
        : 'Something went wrong on our side; nothing was changed that is not shown above. Try again, or check /sg-status. (INTERNAL)';
    // Error messages can quote user or AWS input: escape them like everything else we echo.
    await reply.ephemeral(`:warning: ${escapeMrkdwn(sentence)}`).catch(() => {});
  }
}
