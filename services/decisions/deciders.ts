import type { Config, People } from '../config/config';
import { approversFor, revokersFor } from '../routing/routes';
import type { ViolationItem } from '../violations/items';

/** Who may decide a violation: who may revoke it and who may keep it. */
export interface Deciders {
  revokers: People;
  approvers: People;
}

/**
 * Who decides this violation: its stored route's `revokers` / `approvers` where the route names its own,
 * else `decisions.revokers` / `decisions.approvers` (services/routing). Reminders, escalation and the Home
 * tab ask here, as Revoke and Keep do, so they name the same people.
 */
export function decidersFor(
  violation: Pick<ViolationItem, 'violationId' | 'route'>,
  config: Config,
): Deciders {
  return { revokers: revokersFor(config, violation), approvers: approversFor(config, violation) };
}

/** The approvers of a violation (users and user groups): who a reminder mentions, who may keep it. */
export function approverGroupsFor(
  violation: Pick<ViolationItem, 'violationId' | 'route'>,
  config: Config,
): People {
  return decidersFor(violation, config).approvers;
}
