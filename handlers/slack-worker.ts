import { acceptJob } from '../slack/jobs';
import { registerJobs } from '../slack/listeners';
import { getWiring } from './wiring';

// The worker never builds Bolt: it registers the features' job sources and runners directly.
registerJobs();

/**
 * Runs one job the Slack door handed off (asynchronous Lambda invoke). The payload is only believed as far
 * as it proves itself: a Slack request signed with the signing secret (read from Parameter Store, like
 * the door), recent, not yet acted on; the job is read from that signed body (slack/jobs acceptJob).
 */
export async function handler(event: unknown): Promise<void> {
  const wiring = getWiring();
  const { signingSecret } = await wiring.secrets.get();
  try {
    await acceptJob(wiring, signingSecret, event);
  } finally {
    wiring.metrics.flush();
  }
}
