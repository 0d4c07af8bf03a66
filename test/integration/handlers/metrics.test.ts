import type { EventBridgeEvent } from 'aws-lambda';
import type { Wiring } from '../../../handlers/wiring';
import { authorize, createGroup, liveRuleIds } from '../../support/aws';
import { authorizeIngressRecord, eventBridgeEvent } from '../../support/cloudtrail-factory';
import { baseConfig, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';

/**
 * The metrics as CloudWatch will read them: the embedded-metric-format lines real handler invocations
 * write to stdout (Powertools), against moto and the Slack emulator. Names, units, dimensions, values.
 */

const REGION = 'us-east-1';

interface EmfPoint {
  namespace: string;
  name: string;
  unit: string;
  dimensions: Record<string, string>;
  values: number[];
}

let env: HandlerEnv;
let wiring: Wiring;
let detect: (event: EventBridgeEvent<string, unknown>) => Promise<unknown>;
let sweeper: () => Promise<unknown>;
let lines: string[] = [];
let stdoutSpy: jest.SpyInstance;

/** The data points of every EMF line written since the last call. */
function takePoints(): EmfPoint[] {
  const points: EmfPoint[] = [];
  for (const line of lines.splice(0)) {
    const doc = JSON.parse(line) as Record<string, unknown> & {
      _aws: {
        Timestamp: number;
        CloudWatchMetrics: {
          Namespace: string;
          Dimensions: string[][];
          Metrics: { Name: string; Unit: string }[];
        }[];
      };
    };
    expect(typeof doc._aws.Timestamp).toBe('number');
    for (const directive of doc._aws.CloudWatchMetrics) {
      // One dimension set per line: the metric's own dimensions beside `stage`.
      expect(directive.Dimensions).toHaveLength(1);
      const dimensions = Object.fromEntries(directive.Dimensions[0]!.map((d) => [d, String(doc[d])]));
      for (const metric of directive.Metrics) {
        const value = doc[metric.Name] as number | number[];
        points.push({
          namespace: directive.Namespace,
          name: metric.Name,
          unit: metric.Unit,
          dimensions,
          values: Array.isArray(value) ? value : [value],
        });
      }
    }
  }
  return points;
}

function pointsNamed(points: EmfPoint[], name: string): EmfPoint[] {
  return points.filter((p) => p.name === name);
}

beforeAll(async () => {
  env = await startHandlerEnv({
    config: baseConfig('policy:\n  timeouts: { high: 15m }\n  exposure: { unattached: keep }\n'),
  });
  process.env.SG_WARDEN_METRICS = 'emf';
  process.env.SG_WARDEN_STAGE = 'metrics-test';
  const write = process.stdout.write.bind(process.stdout);
  stdoutSpy = jest.spyOn(process.stdout, 'write').mockImplementation(((
    chunk: string | Uint8Array,
    ...rest: unknown[]
  ) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    if (!text.startsWith('{"_aws"')) return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
    lines.push(...text.split('\n').filter(Boolean));
    return true;
  }) as typeof process.stdout.write);
  ({ handler: detect } = (await import('../../../handlers/cloudtrail-event')) as unknown as {
    handler: typeof detect;
  });
  ({ handler: sweeper } = (await import('../../../handlers/sweeper')) as unknown as {
    handler: typeof sweeper;
  });
  wiring = (await import('../../../handlers/wiring')).getWiring();
});

afterAll(async () => {
  stdoutSpy.mockRestore();
  delete process.env.SG_WARDEN_METRICS;
  delete process.env.SG_WARDEN_STAGE;
  await env.stop();
});

describe('metrics in the embedded metric format', () => {
  it('a detected change, a 429 from Slack, then the clock’s auto-revoke: each counted with its dimensions', async () => {
    const { groupId } = await createGroup(REGION);
    const [ruleId] = await authorize(REGION, groupId, {
      IpProtocol: 'tcp',
      FromPort: 22,
      ToPort: 22,
      IpRanges: [{ CidrIp: '0.0.0.0/0' }],
    });
    const record = authorizeIngressRecord({ groupId, rules: [{ ruleId, fromPort: 22, cidr: '0.0.0.0/0' }] });
    // CloudTrail delivered the call 90 s after it was made.
    record.eventTime = new Date(Date.now() - 90_000).toISOString();
    env.slack.failNext('chat.postMessage', { kind: 'rate-limited', retryAfterSeconds: 1 });
    lines = [];

    await detect(eventBridgeEvent(record) as unknown as EventBridgeEvent<string, unknown>);

    const detected = takePoints();
    expect(new Set(detected.map((p) => p.namespace))).toEqual(new Set(['sg-warden']));
    expect(detected.every((p) => p.dimensions.stage === 'metrics-test')).toBe(true);
    expect(pointsNamed(detected, 'CloudTrailEvents')).toEqual([
      {
        namespace: 'sg-warden',
        name: 'CloudTrailEvents',
        unit: 'Count',
        dimensions: { stage: 'metrics-test' },
        values: [1],
      },
    ]);
    const latency = pointsNamed(detected, 'DetectionLatency');
    expect(latency).toHaveLength(1);
    expect(latency[0]!.unit).toBe('Seconds');
    expect(latency[0]!.values[0]).toBeGreaterThanOrEqual(90);
    expect(latency[0]!.values[0]).toBeLessThan(120);
    expect(pointsNamed(detected, 'ViolationsRaised')).toEqual([
      {
        namespace: 'sg-warden',
        name: 'ViolationsRaised',
        unit: 'Count',
        dimensions: { stage: 'metrics-test', severity: 'high', foundBy: 'event' },
        values: [1],
      },
    ]);
    // The group's exposure, looked up once: nothing uses the group (#14).
    expect(pointsNamed(detected, 'ExposureLookups')).toEqual([
      {
        namespace: 'sg-warden',
        name: 'ExposureLookups',
        unit: 'Count',
        dimensions: { stage: 'metrics-test', exposure: 'unattached' },
        values: [1],
      },
    ]);
    expect(pointsNamed(detected, 'ExposureUnreadable')).toEqual([]);
    expect(pointsNamed(detected, 'SlackRateLimited')).toEqual([
      {
        namespace: 'sg-warden',
        name: 'SlackRateLimited',
        unit: 'Count',
        dimensions: { stage: 'metrics-test', method: 'chat.postMessage' },
        values: [1],
      },
    ]);

    // Sixteen minutes on, the sweeper posts the alert Slack refused, then the deadline revokes the rule.
    const realClock = wiring.clock;
    wiring.clock = () => new Date(Date.now() + 16 * 60_000);
    try {
      await sweeper();
    } finally {
      wiring.clock = realClock;
    }
    expect(await liveRuleIds(REGION, groupId)).not.toContain(ruleId);

    const swept = takePoints();
    expect(swept.every((p) => p.dimensions.stage === 'metrics-test')).toBe(true);
    expect(pointsNamed(swept, 'Decisions')).toEqual([
      {
        namespace: 'sg-warden',
        name: 'Decisions',
        unit: 'Count',
        dimensions: { stage: 'metrics-test', outcome: 'AUTO_REVOKED', actorType: 'timeout' },
        values: [1],
      },
    ]);
    expect(pointsNamed(swept, 'AutoRevokes').map((p) => p.values)).toEqual([[1]]);
    const decisionTime = pointsNamed(swept, 'DecisionTime');
    expect(decisionTime.map((p) => [p.unit, p.dimensions])).toEqual([
      ['Seconds', { stage: 'metrics-test', outcome: 'AUTO_REVOKED' }],
    ]);
    // From the alert (stored 16 minutes before the clock's now) to the auto-revoke.
    expect(decisionTime[0]!.values[0]).toBeGreaterThanOrEqual(15 * 60);
    expect(decisionTime[0]!.values[0]).toBeLessThan(17 * 60);
    expect(pointsNamed(swept, 'Sweeps').map((p) => p.values)).toEqual([[1]]);
    const duration = pointsNamed(swept, 'SweepDuration');
    expect(duration.map((p) => p.unit)).toEqual(['Milliseconds']);
    expect(duration[0]!.values[0]).toBeGreaterThanOrEqual(0);
    const due = Object.fromEntries(
      pointsNamed(swept, 'DueItems').map((p) => [p.dimensions.kind, p.values[0]]),
    );
    expect(due.DEADLINE).toBeGreaterThanOrEqual(1);
    expect(due.NOTIFY).toBeGreaterThanOrEqual(1);
    expect(pointsNamed(swept, 'RevokeFailures')).toEqual([]);
    // Looked up again, for the record, before the auto-revoke.
    expect(pointsNamed(swept, 'ExposureLookups').map((p) => [p.dimensions.exposure, p.values])).toEqual([
      ['unattached', [1]],
    ]);
  });

  it('an invocation that changed nothing writes only its own counters', async () => {
    lines = [];
    await sweeper();
    const points = takePoints();
    expect(points.map((p) => p.name).sort()).toEqual(['SweepDuration', 'Sweeps']);
  });
});
