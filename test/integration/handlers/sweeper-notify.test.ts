import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { EventBridgeEvent } from 'aws-lambda';
import { authorize, createGroup, documentClient } from '../../support/aws';
import { authorizeIngressRecord, eventBridgeEvent } from '../../support/cloudtrail-factory';
import { type HandlerEnv, startHandlerEnv } from '../../support/handler-env';

type Handler = (event: EventBridgeEvent<string, unknown>) => Promise<unknown>;

const REGION = 'us-east-1';
let env: HandlerEnv;
let detect: Handler;

beforeAll(async () => {
  env = await startHandlerEnv();
  ({ handler: detect } = await import('../../../handlers/cloudtrail-event'));
});

afterAll(() => env.stop());

beforeEach(() => env.slack.reset());

async function alertStatus(eventId: string): Promise<string> {
  const out = await documentClient().send(
    new GetCommand({ TableName: env.tableName, Key: { pk: `ALERT#${eventId}`, sk: 'ALERT' } }),
  );
  return String(out.Item?.status);
}

/** Detects `count` world-open SSH changes while Slack is down, so their alerts wait for a sweep. */
async function unpostedAlerts(count: number): Promise<string[]> {
  env.slack.failAlways('chat.postMessage', { kind: 'http', status: 503 });
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const { groupId } = await createGroup(REGION);
    const [ruleId] = await authorize(REGION, groupId, {
      IpProtocol: 'tcp',
      FromPort: 22,
      ToPort: 22,
      IpRanges: [{ CidrIp: '0.0.0.0/0' }],
    });
    const record = authorizeIngressRecord({ groupId, rules: [{ ruleId, fromPort: 22, cidr: '0.0.0.0/0' }] });
    await detect(eventBridgeEvent(record) as unknown as EventBridgeEvent<string, unknown>);
    ids.push(String(record.eventID));
  }
  env.slack.reset();
  return ids;
}

async function sweepAt(
  pacing: import('../../../services/violations/post-sweep').NotifyPacing,
): Promise<void> {
  const { sweep } = await import('../../../services/kernel/sweep');
  const { dueHandlers, getWiring } = await import('../../../handlers/wiring');
  const wiring = getWiring();
  // Two minutes on: alerts are due again, deadlines (15 min for SSH) are not, so the sweep only posts.
  await sweep(wiring, dueHandlers(wiring, pacing), new Date(Date.now() + 120_000), {
    concurrencyByKind: { NOTIFY: 1 },
  });
}

describe('sweeper: posting alerts at Slack’s pace', () => {
  it('spaces posts by the minimum interval and goes on after a rate limit', async () => {
    const ids = await unpostedAlerts(3);
    env.slack.failNext('chat.postMessage', { kind: 'rate-limited', retryAfterSeconds: 1 });

    await sweepAt({ minIntervalMs: 250, budgetMs: 20_000 });

    const posts = env.slack.callsTo('chat.postMessage');
    // The first attempt met the 429; the sweep backed off and posted the next alerts anyway.
    expect(posts.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < posts.length; i++) {
      expect(posts[i]!.at - posts[i - 1]!.at).toBeGreaterThanOrEqual(240);
    }
    expect(posts[1]!.at - posts[0]!.at).toBeGreaterThanOrEqual(1000);
    const statuses = await Promise.all(ids.map(alertStatus));
    expect(statuses.filter((s) => s === 'POSTED').length).toBeGreaterThanOrEqual(2);
  });

  it('stops when its time budget is spent and leaves the rest due', async () => {
    const ids = await unpostedAlerts(3);

    // A clock that moves only when the sweep sleeps: posts at 0 and 400 ms fit a 500 ms budget, a third
    // (800 ms) would not. (An alert the test before left due may be among the two: count posts.)
    let virtual = 0;
    await sweepAt({
      minIntervalMs: 400,
      budgetMs: 500,
      nowMs: () => virtual,
      sleep: async (ms) => {
        virtual += ms;
      },
    });

    expect(env.slack.callsTo('chat.postMessage')).toHaveLength(2);
    const statuses = await Promise.all(ids.map(alertStatus));
    expect(statuses.filter((s) => s === 'UNNOTIFIED').length).toBeGreaterThanOrEqual(1);

    await sweepAt({ minIntervalMs: 0, budgetMs: 20_000 });
    expect(await Promise.all(ids.map(alertStatus))).toEqual(['POSTED', 'POSTED', 'POSTED']);
  });
});
