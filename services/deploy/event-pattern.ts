import type { Config } from '../config/config';
import { SECURITY_GROUP_EVENT_NAMES } from '../detection/cloudtrail';
import { EXPOSURE_EVENT_NAMES } from '../detection/exposure-events';

/**
 * The EventBridge pattern of detection's rule (serverless.yml, through infra/iam-from-config.js), from the
 * lists detection parses: one source for the event names. infra/region-forwarder.yml (a plain
 * CloudFormation template for StackSets) spells the same pattern out; a deploy test holds it to this.
 */

/** CloudTrail's event source → the EventBridge `source` of its events. */
const EVENTBRIDGE_SOURCES: Record<string, string> = {
  'ec2.amazonaws.com': 'aws.ec2',
  'elasticloadbalancing.amazonaws.com': 'aws.elasticloadbalancing',
  'rds.amazonaws.com': 'aws.rds',
};

/** The security-group calls detection is sent: rule changes and the watched calls that can silence it. */
const RULE_EVENT_NAMES = SECURITY_GROUP_EVENT_NAMES;

/** The calls detection is sent, by CloudTrail event source: exposure changes only with policy.exposure on. */
export function detectionEventNames(config: Pick<Config, 'policy'>): Record<string, string[]> {
  const names: Record<string, string[]> = { 'ec2.amazonaws.com': [...RULE_EVENT_NAMES] };
  if (!config.policy.exposure.enabled) return names;
  for (const [source, list] of Object.entries(EXPOSURE_EVENT_NAMES))
    names[source] = [...(names[source] ?? []), ...list];
  return names;
}

/** The EventBridge `source` values detection's events come with (the organisation's bus policy allows these). */
export function detectionEventSources(config: Pick<Config, 'policy'>): string[] {
  return Object.keys(detectionEventNames(config)).map((s) => EVENTBRIDGE_SOURCES[s]!);
}

/**
 * detection's EventBridge pattern: CloudTrail's record of each call it reads. One service: its source and
 * names; several: one `$or` branch per service, so that each name is matched only from the service that
 * records it (an event that says `aws.rds` never passes with an EC2 call's name).
 */
export function detectionEventPattern(config: Pick<Config, 'policy'>): Record<string, unknown> {
  const branches = Object.entries(detectionEventNames(config)).map(([eventSource, eventName]) => ({
    source: [EVENTBRIDGE_SOURCES[eventSource]!],
    detail: { eventSource: [eventSource], eventName },
  }));
  const [only] = branches;
  if (branches.length === 1 && only)
    return { source: only.source, 'detail-type': ['AWS API Call via CloudTrail'], detail: only.detail };
  return { 'detail-type': ['AWS API Call via CloudTrail'], $or: branches };
}
