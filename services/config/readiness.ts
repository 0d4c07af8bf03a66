import type { Config } from './config';

/**
 * The alert channel config/sg-warden.yml ships with. It is also the local sandbox's channel (`npm start`
 * posts there in its emulated workspace), so the config loader accepts it; `sg-warden policy check` and
 * `serverless deploy` refuse it, since a deployed bot would post to a channel that is not yours.
 */
export const EXAMPLE_ALERT_CHANNEL = 'C0SGWARDEN';

/** What in a config is still the shipped example and must be changed before a deploy (empty: ready). */
export function deployBlockers(config: Config): string[] {
  const blockers: string[] = [];
  if (config.slack.alertChannel === EXAMPLE_ALERT_CHANNEL) {
    blockers.push(
      `slack.alertChannel is still the example ${EXAMPLE_ALERT_CHANNEL}: put your alert channel's ID there (C…, from the channel's details in Slack)`,
    );
  }
  return blockers;
}
