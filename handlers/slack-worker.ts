import type { Job } from '../services/jobs';
import { runJob } from '../slack/jobs';
import { getWiring } from './wiring';

/** Runs one job the Slack door handed off (asynchronous Lambda invoke). */
export async function handler(job: Job): Promise<void> {
  await runJob(getWiring(), job);
}
