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
  Scans: {
    unit: 'Count',
    dimensions: [],
    meaning: 'reconciliation scans finished (every target read or reported)',
  },
  ScanErrors: {
    unit: 'Count',
    dimensions: [],
    meaning: 'accounts and regions a scan could not read (permissions, a disabled region, AWS errors)',
  },
  ScanRulesRead: { unit: 'Count', dimensions: [], meaning: 'security-group rules a finished scan read' },
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
  SessionsEnded: {
    unit: 'Count',
    dimensions: ['subject'],
    meaning: 'established TCP connections closed by the end-sessions command, for a grant or a violation',
  },
  SessionEndFailures: {
    unit: 'Count',
    dimensions: [],
    meaning:
      'sessions that should have been ended and were not (not sent, refused, an instance gave no count)',
  },
  ActorAsks: {
    unit: 'Count',
    dimensions: ['outcome'],
    meaning:
      'direct messages to a change’s author: ASKED, FAILED (not asked), and their answers NEEDED, REVOKED',
  },
  Reminders: {
    unit: 'Count',
    dimensions: ['kind', 'outcome'],
    meaning: 'reminders (remind) and escalations (escalate) posted (ok) or given up on (error)',
  },
  ReminderFailures: {
    unit: 'Count',
    dimensions: [],
    meaning: 'reminders or escalations sg-warden gave up posting after every try',
  },
  HomeViews: {
    unit: 'Count',
    dimensions: ['outcome'],
    meaning: 'Home tabs published (ok) or not (error), on opening and after a change',
  },
  BackstopFired: {
    unit: 'Count',
    dimensions: [],
    meaning: 'rules the backstop schedule revoked because the sweeper had not (grants and violations)',
  },
  BackstopDeadLetters: {
    unit: 'Count',
    dimensions: ['outcome'],
    meaning: 'backstop runs that failed, reconciled: already-gone (no harm) or still-there (it failed)',
  },
  BackstopFailed: {
    unit: 'Count',
    dimensions: [],
    meaning: 'backstop runs that failed while the rule is still there (or whose dead letter is unreadable)',
  },
  AlertPostDelay: {
    unit: 'Seconds',
    dimensions: [],
    meaning: 'time from a detection to its alert (own message or digest) reaching the channel',
  },
  Digests: {
    unit: 'Count',
    dimensions: [],
    meaning: 'digest messages posted: bursts carried many alerts to a message',
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
