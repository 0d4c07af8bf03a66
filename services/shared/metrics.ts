/**
 * Operational metrics: what an operator graphs and alarms on (README "Operating sg-warden"). The port
 * is this small interface; in Lambda the adapter writes CloudWatch embedded-metric-format lines to the
 * log (services/metrics/emf-metrics.ts), never PutMetricData. Every metric lives in the namespace
 * METRICS_NAMESPACE with the dimension `stage`, plus the extra dimensions its catalogue entry names.
 */

export const METRICS_NAMESPACE = 'sg-warden';

export type MetricUnit = 'Count' | 'Seconds' | 'Milliseconds';

/** Every metric sg-warden emits: its unit, its extra dimensions (beside `stage`) and what it counts. */
export const METRIC_CATALOG = {
  ViolationsRaised: {
    unit: 'Count',
    dimensions: ['severity', 'foundBy'],
    meaning: 'violations stored, by severity and by how they were found (event, scan)',
  },
  Decisions: {
    unit: 'Count',
    dimensions: ['outcome', 'actorType'],
    meaning: 'violations decided, by outcome (REVOKED, AUTO_REVOKED, KEPT, …) and who decided',
  },
  DecisionTime: {
    unit: 'Seconds',
    dimensions: ['outcome'],
    meaning: 'time from the alert to a person’s or the clock’s decision (revoke, auto-revoke, keep)',
  },
  AutoRevokes: { unit: 'Count', dimensions: [], meaning: 'rules revoked by the clock at their deadline' },
  RevokeFailures: {
    unit: 'Count',
    dimensions: [],
    meaning: 'revokes that failed for good (violation FAILED) or a grant whose rule could not be removed',
  },
  Grants: {
    unit: 'Count',
    dimensions: ['outcome'],
    meaning: '/sg-whitelist grants that became ACTIVE, EXPIRED, REVOKED, FAILED or REVOKE_FAILED',
  },
  Runs: { unit: 'Count', dimensions: ['outcome'], meaning: '/sg-run runs that ended, by final status' },
  Sweeps: { unit: 'Count', dimensions: [], meaning: 'sweeps finished: the heartbeat of the clock' },
  SweepDuration: { unit: 'Milliseconds', dimensions: [], meaning: 'how long one sweep took' },
  DueItems: { unit: 'Count', dimensions: ['kind'], meaning: 'due items a sweep found, by kind' },
  DueItemsFailed: { unit: 'Count', dimensions: ['kind'], meaning: 'due items whose handling threw' },
  SlackRateLimited: {
    unit: 'Count',
    dimensions: ['method'],
    meaning: 'Slack answers 429 (rate limited), by Web API method',
  },
  CloudTrailEvents: {
    unit: 'Count',
    dimensions: [],
    meaning: 'security-group CloudTrail events received: the canary for a silent trail',
  },
  DetectionLatency: {
    unit: 'Seconds',
    dimensions: [],
    meaning: 'time from the API call (CloudTrail eventTime) to its evaluation',
  },
  ExposureLookups: {
    unit: 'Count',
    dimensions: ['exposure'],
    meaning:
      'exposure lookups made (once per group per invocation), by class: internet, internal, unattached, unknown',
  },
  ExposureUnreadable: {
    unit: 'Count',
    dimensions: [],
    meaning:
      'exposure lookups in which an AWS read failed (the group is then unknown where that read decided)',
  },
  ExposureRegrades: {
    unit: 'Count',
    dimensions: ['outcome'],
    meaning:
      'rules re-graded because their group’s exposure changed: raised, noted (it fell), reasked (an exception ended), stood, created',
  },
  ExposureGroupsCapped: {
    unit: 'Count',
    dimensions: [],
    meaning: 'groups an exposure change touched beyond policy.exposure.maxGroupsPerEvent, left to the scan',
  },
} as const satisfies Record<string, { unit: MetricUnit; dimensions: readonly string[]; meaning: string }>;

export type MetricName = keyof typeof METRIC_CATALOG;

/** Extra dimensions of a metric, by name (values are short, low-cardinality words). */
export type MetricDimensions = Record<string, string>;

/** Where metrics go. `flush()` writes what was buffered; handlers call it before they return. */
export interface Metrics {
  add(name: MetricName, value: number, dimensions?: MetricDimensions): void;
  flush(): void;
}

/** Metrics that go nowhere (unit tests, the CLI, the local sandbox unless asked). */
export const noMetrics: Metrics = { add: () => {}, flush: () => {} };
