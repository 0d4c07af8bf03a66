import type { App } from '@slack/bolt';
import type { SlackDeps } from '../deps';
import { registerActorJobs, registerActorListeners } from './actors';
import { registerDecisionJobs, registerDecisionListeners } from './decisions';
import { registerHomeJobs, registerHomeListeners } from './home';
import { registerRunJobs, registerRunListeners } from './runs';
import { registerStatusJobs, registerStatusListeners } from './status';
import { registerTeamGuard, registerTeamGuardJobs } from './team-guard';
import { registerWhitelistJobs, registerWhitelistListeners } from './whitelist';

/** A feature's listener registration: adds its Bolt listeners and job runners. */
export type ListenerRegistration = (app: App, deps: SlackDeps) => void;

/** Every feature's listeners, registered once per container. */
const registrations: ListenerRegistration[] = [
  // First: refuses requests from other Slack workspaces before any listener sees them.
  registerTeamGuard,
  registerDecisionListeners,
  registerActorListeners,
  registerRunListeners,
  registerWhitelistListeners,
  registerStatusListeners,
  registerHomeListeners,
];

/** Every feature's job runners (registerJobRunner calls): the worker Lambda registers them without Bolt. */
const jobRegistrations: (() => void)[] = [
  registerTeamGuardJobs,
  registerDecisionJobs,
  registerActorJobs,
  registerRunJobs,
  registerWhitelistJobs,
  registerStatusJobs,
  registerHomeJobs,
];

/** Registers every feature's job runners (idempotent). */
export function registerJobs(): void {
  for (const register of jobRegistrations) register();
}

/** Registers every listener on the app, and the job runners they hand off to. */
export function registerListeners(app: App, deps: SlackDeps): void {
  for (const register of registrations) register(app, deps);
  registerJobs();
}
