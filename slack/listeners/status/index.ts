import type { App } from '@slack/bolt';
import type { SlackDeps } from '../../deps';
import { registerJobRunner } from '../../jobs';
import { registerJobSource } from '../../jobs/sources';
import { statusCommand, statusJob } from './command';
import { runStatusJob, StatusJobs } from './jobs';

/** `/sg-status`. */
export function registerStatusListeners(app: App, deps: SlackDeps): void {
  app.command('/sg-status', statusCommand(deps));
  // Also registered by registerJobs(); registering twice is harmless (a map by kind).
  registerStatusJobs();
}

/** The worker's runner for `/sg-status`. */
export function registerStatusJobs(): void {
  registerJobSource(statusJob);
  registerJobRunner(StatusJobs.status, runStatusJob);
}
