import type { Config, People } from '../config/config';
import type { ViolationItem } from '../violations/items';

/** Who may decide a violation: who may revoke it and who may keep it. */
export interface Deciders {
  revokers: People;
  approvers: People;
}

/**
 * Who decides this violation. Today every violation has the same people (`decisions.revokers` /
 * `decisions.approvers`); this is the one place that says so, so that reminders, escalation and the Home
 * tab follow when a violation can have its own (a route's) people.
 */
export function decidersFor(_violation: Pick<ViolationItem, 'violationId'>, config: Config): Deciders {
  return { revokers: config.decisions.revokers, approvers: config.decisions.approvers };
}

/** The approvers of a violation (users and user groups): who a reminder mentions, who may keep it. */
export function approverGroupsFor(violation: Pick<ViolationItem, 'violationId'>, config: Config): People {
  return decidersFor(violation, config).approvers;
}
