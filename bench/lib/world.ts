import { randomUUID } from 'node:crypto';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { authorize, createGroup, documentClient, ec2Client } from '../../test/support/aws';
import {
  authorizeIngressRecord,
  eventBridgeEvent,
  type RuleSpec,
} from '../../test/support/cloudtrail-factory';
import { ALERT_CHANNEL } from './env';
import type { FunctionHost } from './function-host';

export const REGION = 'us-east-1';

/** A security-group rule that exists in the emulated EC2. */
export interface LiveRule {
  groupId: string;
  ruleId: string;
  port: number;
}

/** Runs `task` over `items` with at most `concurrency` at once (setup work only; results in order). */
export async function inParallel<T, R>(
  items: readonly T[],
  concurrency: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await task(items[i]!, i);
      }
    }),
  );
  return results;
}

/**
 * Creates `count` world-open TCP rules (one AuthorizeSecurityGroupIngress per rule: moto reports only the
 * last permission's rules when a call carries several), `perGroup` to a group (EC2 allows 60).
 */
export async function worldOpenRules(count: number, perGroup = 50): Promise<LiveRule[]> {
  const groups = Math.ceil(count / perGroup);
  const groupIds = await inParallel(
    Array.from({ length: groups }),
    4,
    async () => (await createGroup(REGION)).groupId,
  );
  return inParallel(Array.from({ length: count }), 6, async (_, i) => {
    const groupId = groupIds[Math.floor(i / perGroup)]!;
    const port = 2000 + (i % perGroup);
    const [ruleId] = await authorize(REGION, groupId, {
      IpProtocol: 'tcp',
      FromPort: port,
      ToPort: port,
      IpRanges: [{ CidrIp: '0.0.0.0/0' }],
    });
    return { groupId, ruleId: ruleId!, port };
  });
}

/** The EventBridge event CloudTrail produces when these rules (all in one group) are authorized in one call. */
export function violatingEvent(
  rules: readonly LiveRule[],
  eventId: string = randomUUID(),
): Record<string, unknown> {
  const specs: RuleSpec[] = rules.map((r) => ({
    ruleId: r.ruleId,
    fromPort: r.port,
    toPort: r.port,
    cidr: '0.0.0.0/0',
  }));
  return eventBridgeEvent(authorizeIngressRecord({ groupId: rules[0]!.groupId, rules: specs, eventId }));
}

/** An EventBridge scheduled event, as the sweeper's rate(1 minute) rule delivers it. */
export function scheduledEvent(): Record<string, unknown> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '123456789012',
    time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: REGION,
    resources: [`arn:aws:events:${REGION}:123456789012:rule/sg-warden-sweeper`],
    detail: {},
  };
}

/** One posted alert with its single violation, ready for button presses. */
export interface SeededAlert {
  eventId: string;
  violationId: string;
  channel: string;
  ts: string;
  rule: LiveRule;
}

/** Delivers one violating event per rule through a (warm) detection host and reads back what it stored. */
export async function seedAlerts(
  detection: FunctionHost,
  tableName: string,
  rules: readonly LiveRule[],
): Promise<SeededAlert[]> {
  const doc = documentClient();
  return inParallel(rules, 1, async (rule) => {
    const eventId = randomUUID();
    const result = await detection.invoke(violatingEvent([rule], eventId));
    if (result.error) throw new Error(`seeding: detection failed: ${result.error}`);
    const out = await doc.send(
      new GetCommand({ TableName: tableName, Key: { pk: `ALERT#${eventId}`, sk: 'ALERT' } }),
    );
    const alert = out.Item as { violationIds?: string[]; channel?: string; ts?: string } | undefined;
    const violationId = alert?.violationIds?.[0];
    if (!violationId) throw new Error(`seeding: no violation stored for event ${eventId}`);
    return {
      eventId,
      violationId,
      channel: alert?.channel ?? ALERT_CHANNEL,
      ts: alert?.ts ?? '1700000000.000100',
      rule,
    };
  });
}

export function ec2(): EC2Client {
  return ec2Client(REGION);
}
