import type { Job } from '../services/jobs/jobs';
import { runJob } from '../slack/jobs';
import { registerJobs } from '../slack/listeners';
import { getWiring } from './wiring';

// The worker never builds Bolt: it registers the features' job runners directly.
registerJobs();

/** Runs one job the Slack door handed off (asynchronous Lambda invoke). */
export async function handler(job: Job): Promise<void> {
  const wiring = getWiring();
  try {
    await runJob(wiring, job);
  } finally {
    wiring.metrics.flush();
  }
}
