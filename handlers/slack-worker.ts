import type { Context } from 'aws-lambda';
import { acceptJob } from '../slack/jobs';
import { registerJobs } from '../slack/listeners';
import { getWiring, inInvocation } from './wiring';

// The worker never builds Bolt: it registers the features' job sources and runners directly.
registerJobs();

/**
 * Runs one job the Slack door handed off (asynchronous Lambda invoke). The payload is only believed as far
 * as it proves itself: a Slack request signed with the signing secret (read from Parameter Store, like
 * the door), recent, not yet acted on; the job is read from that signed body (slack/jobs acceptJob).
 * The invocation's logger names the job, the Slack user and request once the signed body has said who.
 */
export async function handler(event: unknown, context?: Context): Promise<void> {
  const wiring = getWiring();
  await inInvocation(context, {}, async () => {
    const { signingSecret } = await wiring.secrets.get();
    try {
      // Runs the job and rebuilds the Home tabs it changed.
      await acceptJob(wiring, signingSecret, event);
    } finally {
      wiring.metrics.flush();
    }
  });
}
