import type { App } from '@slack/bolt';
import type { SlackDeps } from '../deps';
import { registerRunListeners } from './runs';
import { registerStatusListeners } from './status';
import { registerWhitelistListeners } from './whitelist';

/** A feature's listener registration: adds its Bolt listeners and job runners. */
export type ListenerRegistration = (app: App, deps: SlackDeps) => void;

/** Every feature's listeners, registered once per container. */
const registrations: ListenerRegistration[] = [
  registerRunListeners,
  registerWhitelistListeners,
  registerStatusListeners,
];

/** Registers every listener on the app. */
export function registerListeners(app: App, deps: SlackDeps): void {
  for (const register of registrations) register(app, deps);
}
