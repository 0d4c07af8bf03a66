import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { EventBridgeEvent } from 'aws-lambda';
import { authorize, createGroup, documentClient } from '../../support/aws';
import { type AwsFaults, startFaultyAws } from '../../support/aws-faults';
import { authorizeIngressRecord, eventBridgeEvent } from '../../support/cloudtrail-factory';
import { ALERT_CHANNEL, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';
import type { SlowProxy } from '../../support/slow-proxy';

type Handler = (
  event: EventBridgeEvent<string, unknown>,
) => Promise<{ processed: number; violations: number }>;

const REGION = 'us-east-1';
let env: HandlerEnv;
let proxy: SlowProxy;
let faults: AwsFaults;
let handler: Handler;

beforeAll(async () => {
  env = await startHandlerEnv();
  ({ proxy, faults } = await startFaultyAws());
  // Every AWS call of the handler goes through the fault proxy (the test's own calls go to moto).
  process.env.AWS_ENDPOINT_URL = proxy.url;
  ({ handler } = await import('../../../handlers/cloudtrail-event'));
});

afterAll(async () => {
  await env.stop();
  await proxy.stop();
});

async function getItem(pk: string, sk: string): Promise<Record<string, unknown> | undefined> {
  const out = await documentClient().send(new GetCommand({ TableName: env.tableName, Key: { pk, sk } }));
  return out.Item;
}

describe('cloudtrail-event handler when DynamoDB fails mid-way', () => {
  it('fails the invocation when the alert cannot be marked stored, and the retry finishes it', async () => {
    const { groupId } = await createGroup(REGION);
    const [ruleId] = await authorize(REGION, groupId, {
      IpProtocol: 'tcp',
      FromPort: 22,
      ToPort: 22,
      IpRanges: [{ CidrIp: '0.0.0.0/0' }],
    });
    const record = authorizeIngressRecord({
      groupId,
      rules: [{ ruleId: ruleId!, fromPort: 22, cidr: '0.0.0.0/0' }],
    });
    const event = eventBridgeEvent(record) as unknown as EventBridgeEvent<string, unknown>;
    // The STORING → UNNOTIFIED write (the only transaction naming both states) fails every time.
    faults.add({
      service: 'dynamodb',
      action: 'TransactWriteItems',
      when: (body) => body.includes('"STORING"') && body.includes('"UNNOTIFIED"'),
      times: 20,
      error: { code: 'InternalServerError', status: 500, message: 'Internal server error' },
    });

    // Reported as a failure, so that EventBridge delivers the event again…
    await expect(handler(event)).rejects.toThrow();
    expect(faults.injectedInto('TransactWriteItems').length).toBeGreaterThan(0);
    expect(await getItem(`ALERT#${record.eventID}`, 'ALERT')).toMatchObject({ status: 'STORING' });
    expect(env.slack.callsTo('chat.postMessage')).toHaveLength(0);

    // …and the redelivery completes it: one alert, posted once.
    faults.clear();
    expect(await handler(event)).toEqual({ processed: 1, violations: 1 });
    expect(await getItem(`ALERT#${record.eventID}`, 'ALERT')).toMatchObject({
      status: 'POSTED',
      channel: ALERT_CHANNEL,
    });
    expect(env.slack.callsTo('chat.postMessage')).toHaveLength(1);
  });
});
