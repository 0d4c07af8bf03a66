import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { EventBridgeEvent } from 'aws-lambda';
import type { Job } from '../../../services/jobs/jobs';
import { authorize, createGroup, documentClient, liveRuleIds } from '../../support/aws';
import { authorizeIngressRecord, eventBridgeEvent } from '../../support/cloudtrail-factory';
import { ALERT_CHANNEL, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';
import { ENGINEER } from '../../support/slack-requests';

// The worker Lambda as deployed: it receives the job the door handed off (async invoke payload) and
// never builds Bolt, so it must register the job runners itself. slack-http is not imported here.
const REGION = 'us-east-1';
let env: HandlerEnv;
let worker: (job: Job) => Promise<void>;
let cloudtrail: (event: EventBridgeEvent<string, unknown>) => Promise<unknown>;

beforeAll(async () => {
  env = await startHandlerEnv();
  ({ handler: worker } = await import('../../../handlers/slack-worker'));
  ({ handler: cloudtrail } = (await import('../../../handlers/cloudtrail-event')) as unknown as {
    handler: typeof cloudtrail;
  });
});

afterAll(() => env.stop());

describe('slack-worker handler', () => {
  it('runs a revoke job handed off by the door', async () => {
    const { groupId } = await createGroup(REGION);
    const [ruleId] = await authorize(REGION, groupId, {
      IpProtocol: 'tcp',
      FromPort: 22,
      ToPort: 22,
      IpRanges: [{ CidrIp: '0.0.0.0/0' }],
    });
    const record = authorizeIngressRecord({ groupId, rules: [{ ruleId, fromPort: 22, cidr: '0.0.0.0/0' }] });
    await cloudtrail(eventBridgeEvent(record) as unknown as EventBridgeEvent<string, unknown>);
    const alert = (
      await documentClient().send(
        new GetCommand({ TableName: env.tableName, Key: { pk: `ALERT#${record.eventID}`, sk: 'ALERT' } }),
      )
    ).Item as { violationIds: string[]; ts: string };

    await worker({
      kind: 'decision.revoke',
      actor: { userId: ENGINEER.id, userName: ENGINEER.name },
      reply: { channel: ALERT_CHANNEL, messageTs: alert.ts, responseUrl: env.slack.responseUrl() },
      args: { target: { violationIds: [alert.violationIds[0]] } },
      receivedAt: new Date().toISOString(),
    });

    expect(await liveRuleIds(REGION, groupId)).not.toContain(ruleId);
    const v = (
      await documentClient().send(
        new GetCommand({
          TableName: env.tableName,
          Key: { pk: `VIOLATION#${alert.violationIds[0]}`, sk: 'VIOLATION' },
        }),
      )
    ).Item;
    expect(v).toMatchObject({ status: 'REVOKED', decidedBy: ENGINEER.id });
  });

  it('answers a job it does not know with an ephemeral sentence, not a crash', async () => {
    const responseUrl = env.slack.responseUrl();
    await worker({
      kind: 'decision.nonsense',
      actor: { userId: ENGINEER.id, userName: ENGINEER.name },
      reply: { channel: ALERT_CHANNEL, responseUrl },
      args: {},
      receivedAt: new Date().toISOString(),
    });
    const id = responseUrl.split('/').at(-1);
    expect(env.slack.responseUrlPosts.find((p) => p.id === id)?.body.text).toContain('UNKNOWN_JOB');
  });

  it('refuses a job whose arguments name no rules', async () => {
    const responseUrl = env.slack.responseUrl();
    await worker({
      kind: 'decision.revoke',
      actor: { userId: ENGINEER.id, userName: ENGINEER.name },
      reply: { channel: ALERT_CHANNEL, responseUrl },
      args: { target: { violationIds: 'v-1' } },
      receivedAt: new Date().toISOString(),
    });
    const id = responseUrl.split('/').at(-1);
    expect(env.slack.responseUrlPosts.find((p) => p.id === id)?.body.text).toContain(
      'does not name the rules',
    );
  });
});
