// biome-ignore-all lint/suspicious/noTemplateCurlyInString: CloudFormation ${…} placeholders in expected templates, on purpose
import { METRIC_CATALOG } from '../../../services/shared/metrics';
import { packageDeploy } from '../../support/package-deploy';

/**
 * Operating the deploy: the alarms (each with its metric), the dashboard, the optional KMS key and the
 * log retention, as `serverless package` (offline, the real osls + esbuild) writes them, once per set of
 * options: a created key with the alarms' topic in the config, and a key of one's own with the topic
 * given as a param.
 */

const FUNCTIONS = [
  'cloudtrailEvent',
  'slackHttp',
  'slackWorker',
  'sweeper',
  'scan',
  'backstopDeadLetters',
  'ipCapture',
];
const CONFIG_TOPIC = 'arn:aws:sns:eu-west-1:111122223333:sg-warden-ops';
const PARAM_TOPIC = 'arn:aws:sns:eu-west-1:111122223333:sg-warden-pager';
const OWN_KEY = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

type Json = Record<string, unknown>;
interface Template {
  Resources: Record<string, { Type: string; DeletionPolicy?: string; Properties: Json }>;
}

function packageWith(config: string, params: string[] = []): Template {
  return packageDeploy(config, { params, prefix: 'sg-warden-operations' }).template as Template;
}

const upper = (name: string) => `${name[0]!.toUpperCase()}${name.slice(1)}`;

function byType(template: Template, type: string): [string, { Type: string; Properties: Json }][] {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}

/** Every statement attached to a role (inline and AWS::IAM::Policy). */
function statementsOf(template: Template, roleId: string): Json[] {
  const inline = (
    (template.Resources[roleId]!.Properties.Policies as { PolicyDocument: { Statement: Json[] } }[]) ?? []
  ).flatMap((p) => p.PolicyDocument.Statement);
  const attached = byType(template, 'AWS::IAM::Policy')
    .filter(([, r]) => (r.Properties.Roles as { Ref: string }[]).some((ref) => ref.Ref === roleId))
    .flatMap(([, r]) => (r.Properties.PolicyDocument as { Statement: Json[] }).Statement);
  return [...inline, ...attached];
}

let created: Template;
let ownKey: Template;

beforeAll(() => {
  created = packageWith(`slack:
  alertChannel: C0ALERTS
accounts:
  organizationId: o-abcde12345
alarms:
  topicArn: ${CONFIG_TOPIC}
kms:
  create: true
logs:
  retentionDays: 30
`);
  ownKey = packageWith(
    `slack:
  alertChannel: C0ALERTS
alarms:
  topicArn: ${CONFIG_TOPIC}
  silenceHours: 48
kms:
  keyArn: ${OWN_KEY}
`,
    [`--param=alarmTopicArn=${PARAM_TOPIC}`],
  );
}, 360_000);

describe('alarms', () => {
  /** Each alarm: its metric, statistic, window and what breaches. */
  const EXPECTED: Record<string, Json> = {
    SweeperHeartbeatAlarm: {
      AlarmName: 'sg-warden-prod-sweeper-heartbeat',
      Namespace: 'sg-warden',
      MetricName: 'Sweeps',
      Dimensions: [{ Name: 'stage', Value: 'prod' }],
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    },
    RevokeFailedAlarm: {
      AlarmName: 'sg-warden-prod-revoke-failed',
      Namespace: 'sg-warden',
      MetricName: 'RevokeFailures',
      Dimensions: [{ Name: 'stage', Value: 'prod' }],
      Statistic: 'Sum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    },
    ReminderFailedAlarm: {
      AlarmName: 'sg-warden-prod-reminder-failed',
      Namespace: 'sg-warden',
      MetricName: 'ReminderFailures',
      Dimensions: [{ Name: 'stage', Value: 'prod' }],
      Statistic: 'Sum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    },
    AlertsLateAlarm: {
      AlarmName: 'sg-warden-prod-alerts-late',
      Namespace: 'sg-warden',
      MetricName: 'AlertPostDelay',
      Dimensions: [{ Name: 'stage', Value: 'prod' }],
      Statistic: 'Maximum',
      Period: 300,
      Threshold: 120,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    },
    DoorServerErrorsAlarm: {
      AlarmName: 'sg-warden-prod-door-5xx',
      Namespace: 'AWS/ApiGateway',
      MetricName: '5xx',
      Dimensions: [{ Name: 'ApiId', Value: { Ref: 'HttpApi' } }],
      Statistic: 'Sum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    },
    DoorThrottlesAlarm: {
      AlarmName: 'sg-warden-prod-door-throttles',
      Namespace: 'AWS/Lambda',
      MetricName: 'Throttles',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: 'SlackHttpLambdaFunction' } }],
      Statistic: 'Sum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    },
    ExposureUnreadableAlarm: {
      AlarmName: 'sg-warden-prod-exposure-unreadable',
      Namespace: 'sg-warden',
      MetricName: 'ExposureUnreadable',
      Dimensions: [{ Name: 'stage', Value: 'prod' }],
      Statistic: 'Sum',
      Period: 900,
      EvaluationPeriods: 1,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    },
    ScanUnreadableAlarm: {
      AlarmName: 'sg-warden-prod-scan-unreadable',
      Namespace: 'sg-warden',
      MetricName: 'ScanErrors',
      Dimensions: [{ Name: 'stage', Value: 'prod' }],
      Statistic: 'Sum',
      Period: 300,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    },
    ActorAsksFailingAlarm: {
      AlarmName: 'sg-warden-prod-actor-asks-failing',
      Namespace: 'sg-warden',
      MetricName: 'ActorAsks',
      Dimensions: [
        { Name: 'stage', Value: 'prod' },
        { Name: 'outcome', Value: 'FAILED' },
      ],
      Statistic: 'Sum',
      Period: 3600,
      Threshold: 5,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    },
    // The backstop (#22): it fired (the sweeper was late), it failed, its dead letters wait unreconciled.
    BackstopFiredAlarm: {
      AlarmName: 'sg-warden-prod-backstop-fired',
      Namespace: 'sg-warden',
      MetricName: 'BackstopFired',
      Dimensions: [{ Name: 'stage', Value: 'prod' }],
      Statistic: 'Sum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    },
    BackstopFailedAlarm: {
      AlarmName: 'sg-warden-prod-backstop-failed',
      Namespace: 'sg-warden',
      MetricName: 'BackstopFailed',
      Dimensions: [{ Name: 'stage', Value: 'prod' }],
      Statistic: 'Sum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    },
    BackstopDeadLettersAlarm: {
      AlarmName: 'sg-warden-prod-backstop-dead-letters',
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: 'sg-warden-prod-backstop-dlq' }],
      Statistic: 'Maximum',
      Threshold: 900,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    },
    CloudTrailSilenceAlarm: {
      AlarmName: 'sg-warden-prod-cloudtrail-silent',
      Namespace: 'sg-warden',
      MetricName: 'CloudTrailEvents',
      Dimensions: [{ Name: 'stage', Value: 'prod' }],
      Statistic: 'Sum',
      Period: 3600,
      EvaluationPeriods: 24,
      DatapointsToAlarm: 24,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    },
    ...Object.fromEntries(
      FUNCTIONS.map((name) => [
        `${upper(name)}ErrorsAlarm`,
        {
          AlarmName: `sg-warden-prod-${name}-errors`,
          Namespace: 'AWS/Lambda',
          MetricName: 'Errors',
          Dimensions: [{ Name: 'FunctionName', Value: { Ref: `${upper(name)}LambdaFunction` } }],
          Statistic: 'Sum',
          Threshold: 0,
          ComparisonOperator: 'GreaterThanThreshold',
          TreatMissingData: 'notBreaching',
        },
      ]),
    ),
  };

  it('has exactly these alarms beside the failed-events ones, each on its metric', () => {
    const alarms = Object.fromEntries(byType(created, 'AWS::CloudWatch::Alarm'));
    expect(Object.keys(alarms).sort()).toEqual(
      [...Object.keys(EXPECTED), 'FailedEventsAlarm', 'FailedEventsNotKeptAlarm'].sort(),
    );
    for (const [id, expected] of Object.entries(EXPECTED)) {
      expect({ id, alarm: alarms[id]!.Properties }).toMatchObject({ id, alarm: expected });
    }
  });

  it('watches only metrics sg-warden emits (its catalogue) or AWS publishes', () => {
    for (const [, alarm] of byType(created, 'AWS::CloudWatch::Alarm')) {
      const { Namespace, MetricName } = alarm.Properties as { Namespace?: string; MetricName?: string };
      if (Namespace === 'sg-warden') expect(Object.keys(METRIC_CATALOG)).toContain(MetricName);
    }
  });

  it('notifies the config’s topic on ALARM and OK, every alarm', () => {
    for (const [id, alarm] of byType(created, 'AWS::CloudWatch::Alarm')) {
      expect({ id, actions: [alarm.Properties.AlarmActions, alarm.Properties.OKActions] }).toEqual({
        id,
        actions: [[CONFIG_TOPIC], [CONFIG_TOPIC]],
      });
    }
  });

  it('takes the param’s topic over the config’s, and the canary’s silence from the config', () => {
    for (const [id, alarm] of byType(ownKey, 'AWS::CloudWatch::Alarm')) {
      expect({ id, actions: alarm.Properties.AlarmActions }).toEqual({ id, actions: [PARAM_TOPIC] });
    }
    expect(ownKey.Resources.CloudTrailSilenceAlarm!.Properties).toMatchObject({
      Period: 3600,
      EvaluationPeriods: 48,
      DatapointsToAlarm: 48,
    });
  });
});

describe('dashboard', () => {
  function body(template: Template): string {
    const [, dashboard] = byType(template, 'AWS::CloudWatch::Dashboard')[0]!;
    expect(dashboard.Properties.DashboardName).toBe('sg-warden-prod');
    return (dashboard.Properties.DashboardBody as { 'Fn::Sub': string })['Fn::Sub'];
  }

  it('graphs every metric of the catalogue, with all of its dimensions', () => {
    const text = body(created);
    const widgets = (JSON.parse(text) as { widgets: Json[] }).widgets;
    expect(widgets.length).toBeGreaterThanOrEqual(10);
    for (const [name, metric] of Object.entries(METRIC_CATALOG)) {
      const shown = text.includes(`MetricName=\\"${name}\\"`) || text.includes(`"sg-warden","${name}"`);
      expect({ name, shown }).toEqual({ name, shown: true });
      if (metric.dimensions.length > 0) {
        const schema = ['\\"sg-warden\\"', ...[...metric.dimensions, 'stage'].sort()].join(',');
        expect(text).toContain(`{${schema}} MetricName=\\"${name}\\"`);
      }
    }
  });

  it('shows every function’s errors, the door, the queue and the state of every alarm', () => {
    const text = body(created);
    for (const name of FUNCTIONS) expect(text).toContain(`\${${upper(name)}LambdaFunction}`);
    expect(text).toContain('"AWS/ApiGateway","5xx","ApiId","${HttpApi}"');
    expect(text).toContain('${FailedEventsQueue.QueueName}');
    const alarmWidget = (
      JSON.parse(text) as { widgets: { type: string; properties: { alarms?: string[] } }[] }
    ).widgets.find((w) => w.type === 'alarm')!;
    expect(alarmWidget.properties.alarms!.sort()).toEqual(
      byType(created, 'AWS::CloudWatch::Alarm')
        .map(([id]) => `\${${id}.Arn}`)
        .sort(),
    );
  });
});

describe('encryption and logs', () => {
  const KEY = { 'Fn::GetAtt': ['EncryptionKey', 'Arn'] };

  it('creates a rotated key the account administers and CloudWatch Logs may use for its log groups', () => {
    const key = created.Resources.EncryptionKey!.Properties;
    expect(key.EnableKeyRotation).toBe(true);
    const statements = (key.KeyPolicy as { Statement: Json[] }).Statement;
    expect(statements.map((s) => s.Principal)).toEqual([
      { AWS: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root' } },
      { Service: { 'Fn::Sub': 'logs.${AWS::Region}.amazonaws.com' } },
    ]);
    expect(statements[1]!.Condition).toEqual({
      ArnLike: {
        'kms:EncryptionContext:aws:logs:arn': {
          'Fn::Sub': 'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*',
        },
      },
    });
    expect(created.Resources.EncryptionKeyAlias!.Properties.AliasName).toBe('alias/sg-warden-prod');
  });

  it.each([
    ['a created key', () => created, KEY],
    ['a key of one’s own', () => ownKey, OWN_KEY],
  ])('encrypts the table, the queue and every log group with %s', (_name, template, key) => {
    const t = template();
    expect(t.Resources.StateTable!.Properties.SSESpecification).toEqual({
      SSEEnabled: true,
      SSEType: 'KMS',
      KMSMasterKeyId: key,
    });
    expect(t.Resources.FailedEventsQueue!.Properties).toMatchObject({
      SqsManagedSseEnabled: false,
      KmsMasterKeyId: key,
    });
    const groups = byType(t, 'AWS::Logs::LogGroup');
    expect(groups).toHaveLength(FUNCTIONS.length + 1);
    for (const [, group] of groups) expect(group.Properties.KmsKeyId).toEqual(key);
  });

  it('lets each role use the key only through DynamoDB and SQS, and only the roles that use them', () => {
    const kmsOf = (role: string) =>
      statementsOf(created, role)
        .filter((s) =>
          ([] as string[]).concat(s.Action as string | string[]).some((a) => a.startsWith('kms:')),
        )
        .map((s) => [s.Action, s.Resource, s.Condition]);
    const via = (service: string) => ({
      StringEquals: { 'kms:ViaService': { 'Fn::Sub': `${service}.\${AWS::Region}.amazonaws.com` } },
    });
    const table = [['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'], KEY, via('dynamodb')];
    const queue = [['kms:Decrypt', 'kms:GenerateDataKey'], KEY, via('sqs')];
    expect(kmsOf('SlackHttpRole')).toEqual([]);
    expect(kmsOf('IpCaptureRole')).toEqual([table]);
    for (const role of ['CloudtrailEventRole', 'SlackWorkerRole', 'SweeperRole', 'ScanRole']) {
      expect({ role, kms: kmsOf(role) }).toEqual({ role, kms: [table, queue] });
    }
  });

  it('keeps the logs as long as the config says', () => {
    for (const [, group] of byType(created, 'AWS::Logs::LogGroup'))
      expect(group.Properties.RetentionInDays).toBe(30);
    for (const [, group] of byType(ownKey, 'AWS::Logs::LogGroup'))
      expect(group.Properties.RetentionInDays).toBe(90);
  });
});

describe('the organisation', () => {
  it('takes the organisation from the config, so a deploy without the param keeps the bus statement', () => {
    const policy = created.Resources.OrganizationEventBusPolicy!;
    expect(policy.DeletionPolicy).toBe('Retain');
    expect(policy.Properties.StatementId).toBe('sg-warden-prod-organization');
    expect(JSON.stringify(policy.Properties.Statement)).toContain('o-abcde12345');
    expect(ownKey.Resources.OrganizationEventBusPolicy).toBeUndefined();
  });
});
