// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the dashboard body is a CloudFormation Fn::Sub template, on purpose
import type { Config } from '../config/config';
import { METRICS_NAMESPACE } from '../shared/metrics';
import { endsSessions } from './sessions';

/**
 * What an operator watches, for serverless.yml (through infra/iam-from-config.js): the alarms and the
 * CloudWatch dashboard. sg-warden's own metrics are EMF lines (services/metrics/emf-metrics.ts) in the
 * namespace `sg-warden` with the dimension `stage`; the rest are AWS's (Lambda, API Gateway, SQS).
 * README "Operating sg-warden" says what to do when each alarm fires.
 */

type Json = Record<string, unknown>;
export interface OperationsResources {
  Resources: Record<string, { Type: string; Properties: Json }>;
}

export interface OperationsOptions {
  stage: string;
  /** The function names of serverless.yml (`functions:` keys): every one gets an errors alarm. */
  functions: string[];
  /** SNS topics the alarms notify (ALARM and OK); empty: they only change state. */
  actions: string[];
}

/** serverless.yml's logical ID of a function (`sweeper` → `SweeperLambdaFunction`). */
export function functionLogicalId(name: string): string {
  const normalized = name.replace(/-/g, 'Dash').replace(/_/g, 'Underscore');
  return `${normalized[0]!.toUpperCase()}${normalized.slice(1)}LambdaFunction`;
}

const ref = (logicalId: string) => ({ Ref: logicalId });

/** The SNS topic the alarms notify: the deploy's param (per stage) before the config's, or none. */
export function alarmActions(config: Config, paramTopicArn?: string): string[] {
  const arn = paramTopicArn || config.alarms.topicArn;
  if (!arn) return [];
  if (!/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/.test(arn)) {
    throw new Error(
      `alarmTopicArn "${arn}" is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)`,
    );
  }
  return [arn];
}

interface AlarmSpec {
  id: string;
  name: string;
  description: string;
  namespace: string;
  metric: string;
  dimensions: { Name: string; Value: unknown }[];
  statistic: 'Sum' | 'Maximum';
  period: number;
  evaluationPeriods: number;
  threshold: number;
  comparison: 'GreaterThanThreshold' | 'LessThanThreshold';
  /** breaching: no data is itself the problem (a heartbeat, a canary). */
  missing: 'breaching' | 'notBreaching';
}

function alarm(spec: AlarmSpec, options: OperationsOptions): [string, { Type: string; Properties: Json }] {
  return [
    spec.id,
    {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: `sg-warden-${options.stage}-${spec.name}`,
        AlarmDescription: spec.description,
        Namespace: spec.namespace,
        MetricName: spec.metric,
        Dimensions: spec.dimensions,
        Statistic: spec.statistic,
        Period: spec.period,
        EvaluationPeriods: spec.evaluationPeriods,
        DatapointsToAlarm: spec.evaluationPeriods,
        Threshold: spec.threshold,
        ComparisonOperator: spec.comparison,
        TreatMissingData: spec.missing,
        AlarmActions: options.actions,
        OKActions: options.actions,
      },
    },
  ];
}

/**
 * An alarm on one of sg-warden's own counts (namespace sg-warden, by stage): any at all in one `period`
 * raises it; no data is none.
 */
function anyCounted(
  stage: AlarmSpec['dimensions'],
  spec: Pick<AlarmSpec, 'id' | 'name' | 'description' | 'metric' | 'period'>,
): AlarmSpec {
  return {
    ...spec,
    namespace: METRICS_NAMESPACE,
    dimensions: stage,
    statistic: 'Sum',
    evaluationPeriods: 1,
    threshold: 0,
    comparison: 'GreaterThanThreshold',
    missing: 'notBreaching',
  };
}

const SEE = 'See README "Operating sg-warden".';

/** Every alarm beside the two on the failed-events queue (serverless.yml keeps those). */
export function alarmSpecs(config: Config, options: OperationsOptions): AlarmSpec[] {
  const stage = [{ Name: 'stage', Value: options.stage }];
  const specs: AlarmSpec[] = [
    {
      id: 'SweeperHeartbeatAlarm',
      name: 'sweeper-heartbeat',
      description: `No sweep finished for 3 minutes: deadlines, expiries, retries and re-posts are not happening. ${SEE}`,
      namespace: METRICS_NAMESPACE,
      metric: 'Sweeps',
      dimensions: stage,
      statistic: 'Sum',
      period: 60,
      evaluationPeriods: 3,
      threshold: 1,
      comparison: 'LessThanThreshold',
      missing: 'breaching',
    },
    anyCounted(stage, {
      id: 'RevokeFailedAlarm',
      name: 'revoke-failed',
      description: `A rule sg-warden meant to remove is still there (a violation FAILED, or a grant's rule could not be removed). ${SEE}`,
      metric: 'RevokeFailures',
      period: 300,
    }),
    anyCounted(stage, {
      id: 'ReminderFailedAlarm',
      name: 'reminder-failed',
      description: `A reminder or an escalation could not be posted after every try: the approvers or on call were not told before the clock acts. ${SEE}`,
      metric: 'ReminderFailures',
      period: 300,
    }),
    {
      id: 'AlertsLateAlarm',
      name: 'alerts-late',
      description: `An alert reached Slack more than 2 minutes after its change was detected: people see rules late (Slack failing or rate-limiting, or a burst digests could not carry). ${SEE}`,
      namespace: METRICS_NAMESPACE,
      metric: 'AlertPostDelay',
      dimensions: stage,
      statistic: 'Maximum',
      period: 300,
      evaluationPeriods: 1,
      threshold: 120,
      comparison: 'GreaterThanThreshold',
      missing: 'notBreaching',
    },
    {
      id: 'DoorServerErrorsAlarm',
      name: 'door-5xx',
      description: `The HTTP API answered Slack or a me link with a 5xx: someone's click or command failed. ${SEE}`,
      namespace: 'AWS/ApiGateway',
      metric: '5xx',
      dimensions: [{ Name: 'ApiId', Value: ref('HttpApi') }],
      statistic: 'Sum',
      period: 300,
      evaluationPeriods: 1,
      threshold: 0,
      comparison: 'GreaterThanThreshold',
      missing: 'notBreaching',
    },
    {
      id: 'DoorThrottlesAlarm',
      name: 'door-throttles',
      description: `Lambda throttled the Slack door: Slack got no answer within 3 seconds. ${SEE}`,
      namespace: 'AWS/Lambda',
      metric: 'Throttles',
      dimensions: [{ Name: 'FunctionName', Value: ref(functionLogicalId('slackHttp')) }],
      statistic: 'Sum',
      period: 300,
      evaluationPeriods: 1,
      threshold: 0,
      comparison: 'GreaterThanThreshold',
      missing: 'notBreaching',
    },
    {
      id: 'ActorAsksFailingAlarm',
      name: 'actor-asks-failing',
      description: `More than 5 changes' authors in an hour could not be asked by direct message (a missing users:read.email scope, a revoked token, e-mail addresses Slack does not know). ${SEE}`,
      namespace: METRICS_NAMESPACE,
      metric: 'ActorAsks',
      dimensions: [...stage, { Name: 'outcome', Value: 'FAILED' }],
      statistic: 'Sum',
      period: 3600,
      evaluationPeriods: 1,
      threshold: 5,
      comparison: 'GreaterThanThreshold',
      missing: 'notBreaching',
    },
  ];
  if (config.backstop.enabled) {
    specs.push(
      anyCounted(stage, {
        id: 'BackstopFiredAlarm',
        name: 'backstop-fired',
        description: `Backstop fired: the sweeper was late. An EventBridge Scheduler schedule revoked a rule (a grant's expiry or an auto-revoke deadline) because sg-warden had not by its due time plus backstop.grace. ${SEE}`,
        metric: 'BackstopFired',
        period: 300,
      }),
      anyCounted(stage, {
        id: 'BackstopFailedAlarm',
        name: 'backstop-failed',
        description: `A backstop schedule could not revoke its rule, and the rule is still there (or its dead letter is unreadable): check the execution role and the schedule group in that account and region. ${SEE}`,
        metric: 'BackstopFailed',
        period: 300,
      }),
      {
        id: 'BackstopDeadLettersAlarm',
        name: 'backstop-dead-letters',
        description: `A backstop dead letter waited 15 minutes unreconciled: is backstopDeadLetters running? ${SEE}`,
        namespace: 'AWS/SQS',
        metric: 'ApproximateAgeOfOldestMessage',
        dimensions: [{ Name: 'QueueName', Value: `sg-warden-${options.stage}-backstop-dlq` }],
        statistic: 'Maximum',
        period: 300,
        evaluationPeriods: 1,
        threshold: 900,
        comparison: 'GreaterThanThreshold',
        missing: 'notBreaching',
      },
    );
  }
  if (config.policy.exposure.enabled) {
    specs.push(
      anyCounted(stage, {
        id: 'ExposureUnreadableAlarm',
        name: 'exposure-unreadable',
        description: `An exposure lookup could not read AWS (severities were not graded by what is exposed there). ${SEE}`,
        metric: 'ExposureUnreadable',
        period: 900,
      }),
    );
  }
  for (const name of options.functions) {
    const logicalId = functionLogicalId(name);
    specs.push({
      id: logicalId.replace(/LambdaFunction$/, 'ErrorsAlarm'),
      name: `${name}-errors`,
      description: `${name} ended invocations with an error (its log says which and why). ${SEE}`,
      namespace: 'AWS/Lambda',
      metric: 'Errors',
      dimensions: [{ Name: 'FunctionName', Value: ref(logicalId) }],
      statistic: 'Sum',
      period: 300,
      evaluationPeriods: 1,
      threshold: 0,
      comparison: 'GreaterThanThreshold',
      missing: 'notBreaching',
    });
  }
  if (endsSessions(config)) {
    specs.push(
      anyCounted(stage, {
        id: 'SessionsNotEndedAlarm',
        name: 'sessions-not-ended',
        description: `Sessions sg-warden was configured to end were not (not sent, refused, or an instance gave no count): a connection may outlive its rule. ${SEE}`,
        metric: 'SessionEndFailures',
        period: 300,
      }),
    );
  }
  if (config.scan.schedule !== 'off') {
    specs.push(
      anyCounted(stage, {
        id: 'ScanUnreadableAlarm',
        name: 'scan-unreadable',
        description: `The scan could not read an account or region (its rules there were not checked; the alert channel was told which and why). ${SEE}`,
        metric: 'ScanErrors',
        period: 300,
      }),
    );
  }
  if (config.alarms.silenceHours > 0) {
    const hours = config.alarms.silenceHours;
    specs.push({
      id: 'CloudTrailSilenceAlarm',
      name: 'cloudtrail-silent',
      description: `No security-group CloudTrail event reached sg-warden for ${hours} hours: is the trail still logging EC2 write management events, and do the EventBridge rules still deliver? ${SEE}`,
      namespace: METRICS_NAMESPACE,
      metric: 'CloudTrailEvents',
      dimensions: stage,
      statistic: 'Sum',
      period: 3600,
      evaluationPeriods: hours,
      threshold: 1,
      comparison: 'LessThanThreshold',
      missing: 'breaching',
    });
  }
  return specs;
}

/** A SEARCH over one sg-warden metric with all its dimensions, so every value found is graphed. */
function search(metric: string, dimensions: string[], stat: string, stage: string): string {
  const schema = [`"${METRICS_NAMESPACE}"`, ...[...dimensions, 'stage'].sort()].join(',');
  return `SEARCH('{${schema}} MetricName="${metric}" stage="${stage}"', '${stat}', 300)`;
}

function widget(title: string, metrics: unknown[], x: number, y: number, extra: Json = {}): Json {
  return {
    type: 'metric',
    x,
    y,
    width: 8,
    height: 6,
    properties: {
      title,
      region: '${AWS::Region}',
      view: 'timeSeries',
      stat: 'Sum',
      period: 300,
      metrics,
      ...extra,
    },
  };
}

const own = (metric: string, stage: string, stat = 'Sum', label?: string) => [
  METRICS_NAMESPACE,
  metric,
  'stage',
  stage,
  { stat, ...(label ? { label } : {}) },
];
const expression = (expr: string, id: string, label: string) => [{ expression: expr, id, label }];

/** The dashboard `sg-warden-<stage>`: what sg-warden did, how fast, and whether its parts are healthy. */
export function dashboardBody(options: OperationsOptions, alarmIds: string[]): string {
  const { stage } = options;
  const lambda = (metric: string) =>
    options.functions.map((name) => [
      'AWS/Lambda',
      metric,
      'FunctionName',
      `\${${functionLogicalId(name)}}`,
      { label: name },
    ]);
  const widgets: Json[] = [
    widget(
      'Violations raised (by severity, how found)',
      [expression(search('ViolationsRaised', ['severity', 'foundBy'], 'Sum', stage), 'raised', '')],
      0,
      0,
    ),
    widget(
      'Decisions (by outcome, who)',
      [expression(search('Decisions', ['outcome', 'actorType'], 'Sum', stage), 'decided', '')],
      8,
      0,
    ),
    widget(
      'Time from alert to decision, p90 (s)',
      [expression(search('DecisionTime', ['outcome'], 'p90', stage), 'decisionTime', '')],
      16,
      0,
    ),
    widget(
      'Auto-revokes and revoke failures',
      [
        own('AutoRevokes', stage, 'Sum', 'auto-revoked'),
        own('RevokeFailures', stage, 'Sum', 'revoke failed'),
      ],
      0,
      6,
    ),
    widget(
      'Sweeps (heartbeat: 1 a minute) and due items',
      [
        own('Sweeps', stage, 'Sum', 'sweeps'),
        expression(search('DueItems', ['kind'], 'Sum', stage), 'due', ''),
        expression(search('DueItemsFailed', ['kind'], 'Sum', stage), 'dueFailed', ''),
      ],
      8,
      6,
    ),
    widget(
      'Sweep duration (ms)',
      [own('SweepDuration', stage, 'p50', 'p50'), own('SweepDuration', stage, 'Maximum', 'max')],
      16,
      6,
    ),
    widget(
      'CloudTrail events (the canary) and detection latency (s)',
      [
        own('CloudTrailEvents', stage, 'Sum', 'events'),
        [
          METRICS_NAMESPACE,
          'DetectionLatency',
          'stage',
          stage,
          { stat: 'p90', label: 'latency p90', yAxis: 'right' },
        ],
      ],
      0,
      12,
    ),
    widget(
      'Slack: 429s (by Web API method), digests, time to the channel (s)',
      [
        expression(search('SlackRateLimited', ['method'], 'Sum', stage), 'slack429', ''),
        own('Digests', stage, 'Sum', 'digests'),
        [
          METRICS_NAMESPACE,
          'AlertPostDelay',
          'stage',
          stage,
          { stat: 'Maximum', label: 'alert delay max', yAxis: 'right' },
        ],
      ],
      8,
      12,
    ),
    widget(
      'Grants, runs, reminders and Home tabs (by outcome)',
      [
        expression(search('Grants', ['outcome'], 'Sum', stage), 'grants', ''),
        expression(search('Runs', ['outcome'], 'Sum', stage), 'runs', ''),
        expression(search('Reminders', ['kind', 'outcome'], 'Sum', stage), 'reminders', ''),
        own('ReminderFailures', stage, 'Sum', 'reminders given up'),
        expression(search('HomeViews', ['outcome'], 'Sum', stage), 'homeViews', ''),
      ],
      16,
      12,
    ),
    widget(
      'Backstop: fired (the sweeper was late), failed, dead letters',
      [
        own('BackstopFired', stage, 'Sum', 'fired'),
        own('BackstopFailed', stage, 'Sum', 'failed'),
        expression(search('BackstopDeadLetters', ['outcome'], 'Sum', stage), 'deadLetters', ''),
      ],
      8,
      30,
    ),
    widget('Function errors', lambda('Errors'), 0, 18),
    widget(
      'The Slack door: 5xx and throttles',
      [
        ['AWS/ApiGateway', '5xx', 'ApiId', '${HttpApi}', { label: 'API 5xx' }],
        [
          'AWS/Lambda',
          'Throttles',
          'FunctionName',
          `\${${functionLogicalId('slackHttp')}}`,
          { label: 'throttles' },
        ],
      ],
      8,
      18,
    ),
    widget(
      'Failed-events queue',
      [
        [
          'AWS/SQS',
          'ApproximateNumberOfMessagesVisible',
          'QueueName',
          '${FailedEventsQueue.QueueName}',
          { stat: 'Maximum', label: 'waiting' },
        ],
      ],
      16,
      18,
    ),
    widget(
      'Exposure lookups (by class), lookups that could not read AWS, re-grades (by outcome)',
      [
        expression(search('ExposureLookups', ['exposure'], 'Sum', stage), 'exposure', ''),
        own('ExposureUnreadable', stage, 'Sum', 'unreadable'),
        expression(search('ExposureRegrades', ['outcome'], 'Sum', stage), 'regrade', ''),
        own('ExposureGroupsCapped', stage, 'Sum', 'left to the scan'),
      ],
      0,
      24,
    ),
    widget(
      'Sessions closed (by grant, violation) and not ended',
      [
        expression(search('SessionsEnded', ['subject'], 'Sum', stage), 'sessionsEnded', ''),
        own('SessionEndFailures', stage, 'Sum', 'not ended'),
      ],
      8,
      24,
    ),
    widget(
      'Authors asked by direct message, and their answers',
      [expression(search('ActorAsks', ['outcome'], 'Sum', stage), 'actorAsks', '')],
      16,
      24,
    ),
    widget(
      'The scan: runs finished, rules read, targets it could not read',
      [
        own('Scans', stage, 'Sum', 'scans'),
        own('ScanErrors', stage, 'Sum', 'unreadable targets'),
        [
          METRICS_NAMESPACE,
          'ScanRulesRead',
          'stage',
          stage,
          { stat: 'Sum', label: 'rules read', yAxis: 'right' },
        ],
      ],
      0,
      30,
    ),
    {
      type: 'alarm',
      x: 0,
      y: 36,
      width: 24,
      height: 4,
      properties: { title: 'Alarms', alarms: alarmIds.map((id) => `\${${id}.Arn}`) },
    },
  ];
  return JSON.stringify({ widgets });
}

/** The alarms and the dashboard, as CloudFormation resources. */
export function operationsResources(config: Config, options: OperationsOptions): OperationsResources {
  const specs = alarmSpecs(config, options);
  const Resources: OperationsResources['Resources'] = Object.fromEntries(
    specs.map((spec) => alarm(spec, options)),
  );
  const shown = [...specs.map((s) => s.id), 'FailedEventsAlarm', 'FailedEventsNotKeptAlarm'];
  Resources.OperationsDashboard = {
    Type: 'AWS::CloudWatch::Dashboard',
    Properties: {
      DashboardName: `sg-warden-${options.stage}`,
      DashboardBody: { 'Fn::Sub': dashboardBody(options, shown) },
    },
  };
  return { Resources };
}
