import type { Context } from 'aws-lambda';
import type { Job } from '../services/jobs/jobs';
import { runJob } from '../slack/jobs';
import { registerJobs } from '../slack/listeners';
import { getWiring, inInvocation } from './wiring';

// The worker never builds Bolt: it registers the features' job runners directly.
registerJobs();

/** Runs one job the Slack door handed off (asynchronous Lambda invoke). */
export async function handler(job: Job, context?: Context): Promise<void> {
  const keys = {
    job: job?.kind,
    slackUser: job?.actor?.userId,
    ...(job?.requestId ? { slackRequestId: job.requestId } : {}),
  };
  await inInvocation(context, keys, () => runJob(getWiring(), job));
}
