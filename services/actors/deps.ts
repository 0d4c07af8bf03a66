import type { AlertDeps } from '../violations/alerts';
import type { ActorNotifier, SlackUserLookup } from './ports';

/** What asking a change's author works with (detection and the Slack wiring satisfy it). */
export interface AskDeps extends AlertDeps {
  /** Finds Slack users by e-mail; absent: only decisions.principalToSlack names authors. */
  users?: SlackUserLookup;
  /** Sends the direct message; absent: nobody is asked. */
  actorNotifier?: ActorNotifier;
}
