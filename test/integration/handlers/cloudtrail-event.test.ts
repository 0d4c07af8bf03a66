import { DeleteSecurityGroupCommand, RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { EventBridgeEvent } from 'aws-lambda';
import { authorize, createGroup, documentClient, ec2Client } from '../../support/aws';
import { authorizeIngressRecord, eventBridgeEvent } from '../../support/cloudtrail-factory';
import { ALERT_CHANNEL, baseConfig, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';

type Handler = (
  event: EventBridgeEvent<string, unknown>,
) => Promise<{ processed: number; violations: number }>;

const REGION = 'us-east-1';
let env: HandlerEnv;
let handler: Handler;

beforeAll(async () => {
  env = await startHandlerEnv({
    config: baseConfig(
      // A group nothing uses keeps its severity here: these tests are about detection itself (exposure has its own).
      'policy:\n  timeouts: { critical: 5m, high: 15m, medium: 1h, low: null }\n  exposure: { unattached: keep }\n',
    ),
  });
  ({ handler } = await import('../../../handlers/cloudtrail-event'));
});

afterAll(async () => {
  await env.stop();
});

beforeEach(() => {
  env.slack.reset();
});

async function getItem(pk: string, sk: string): Promise<Record<string, unknown> | undefined> {
  const out = await documentClient().send(new GetCommand({ TableName: env.tableName, Key: { pk, sk } }));
  return out.Item;
}

async function worldOpenSsh(): Promise<{ groupId: string; groupName: string; ruleId: string }> {
  const { groupId, groupName } = await createGroup(REGION);
  const [ruleId] = await authorize(REGION, groupId, {
    IpProtocol: 'tcp',
    FromPort: 22,
    ToPort: 22,
    IpRanges: [{ CidrIp: '0.0.0.0/0' }],
  });
  return { groupId, groupName, ruleId: ruleId! };
}

/** The CloudTrail record of opening SSH to the world on `groupId` as rule `ruleId`. */
function sshRecord(groupId: string, ruleId: string) {
  return authorizeIngressRecord({ groupId, rules: [{ ruleId, fromPort: 22, cidr: '0.0.0.0/0' }] });
}

/** The sweeper's pieces, loaded after the handler environment is set up. */
async function sweeperParts() {
  const { sweep } = await import('../../../services/kernel/sweep');
  const { dueHandlers, getWiring } = await import('../../../handlers/wiring');
  return { sweep, dueHandlers, wiring: getWiring() };
}

function deliver(record: Record<string, unknown>) {
  return handler(eventBridgeEvent(record) as unknown as EventBridgeEvent<string, unknown>);
}

describe('cloudtrail-event handler', () => {
  describe('a world-open SSH rule', () => {
    it('stores a pending violation with a deadline and posts one interactive message', async () => {
      const { groupId, groupName, ruleId } = await worldOpenSsh();
      const record = sshRecord(groupId, ruleId);

      const result = await deliver(record);

      expect(result).toEqual({ processed: 1, violations: 1 });
      const alert = await getItem(`ALERT#${record.eventID}`, 'ALERT');
      expect(alert).toMatchObject({ status: 'POSTED', channel: ALERT_CHANNEL, groupId, groupName });
      const [violationId] = alert!.violationIds as string[];
      const violation = await getItem(`VIOLATION#${violationId}`, 'VIOLATION');
      expect(violation).toMatchObject({
        status: 'PENDING',
        severity: 'high',
        groupId,
        region: REGION,
        channel: ALERT_CHANNEL,
        ts: alert!.ts,
        rule: expect.objectContaining({
          ruleId,
          protocol: 'tcp',
          fromPort: 22,
          toPort: 22,
          source: '0.0.0.0/0',
        }),
        gsi1pk: 'DUE#DEADLINE',
      });
      const deadlineIn = new Date(violation!.deadline as string).getTime() - Date.now();
      expect(deadlineIn).toBeGreaterThan(14 * 60_000);
      expect(deadlineIn).toBeLessThanOrEqual(15 * 60_000);

      const posts = env.slack.callsTo('chat.postMessage');
      expect(posts).toHaveLength(1);
      const { args, token } = posts[0]!;
      expect(token).toBe('xoxb-test-0000-sg-warden');
      expect(args.channel).toBe(ALERT_CHANNEL);
      const json = JSON.stringify(args.blocks);
      expect(json).toContain(groupId);
      expect(json).toContain('198.51.100.23');
      expect(json).toContain('assumed-role/AWSReservedSSO_Admin_0123/dev@example.com');
      expect(json).toContain(
        `<!date^${Math.floor(new Date(violation!.deadline as string).getTime() / 1000)}^`,
      );
      const actions = (
        args.blocks as {
          type: string;
          elements?: { action_id: string; style?: string; confirm?: unknown; value: string }[];
        }[]
      )
        .filter((b) => b.type === 'actions')
        .flatMap((b) => b.elements ?? []);
      expect(actions.map((a) => a.action_id)).toEqual(['violation_revoke', 'violation_keep']);
      expect(actions[0]).toMatchObject({ style: 'danger', value: violationId, confirm: expect.any(Object) });
    });

    it('writes an audit entry for the detection', async () => {
      const { groupId, ruleId } = await worldOpenSsh();
      const record = sshRecord(groupId, ruleId);
      await deliver(record);
      const alert = await getItem(`ALERT#${record.eventID}`, 'ALERT');
      const [violationId] = alert!.violationIds as string[];
      const audit = await documentClient().send(
        new QueryCommand({
          TableName: env.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': `AUDIT#${violationId}` },
        }),
      );
      expect(audit.Items).toEqual([
        expect.objectContaining({
          action: 'detect',
          toState: 'PENDING',
          actorType: 'aws-principal',
          actorId: expect.stringContaining('assumed-role'),
        }),
      ]);
    });
  });

  describe('one change that opens several rules', () => {
    it('posts one message listing every rule with its own buttons and act-on-all', async () => {
      const { groupId } = await createGroup(REGION);
      const ports = [22, 3389, 5432, 6379, 8443];
      const rules = [];
      for (const port of ports) {
        const [ruleId] = await authorize(REGION, groupId, {
          IpProtocol: 'tcp',
          FromPort: port,
          ToPort: port,
          IpRanges: [{ CidrIp: '0.0.0.0/0' }],
        });
        rules.push({ ruleId: ruleId!, fromPort: port, cidr: '0.0.0.0/0' });
      }
      const result = await deliver(authorizeIngressRecord({ groupId, rules }));
      expect(result.violations).toBe(5);
      const posts = env.slack.callsTo('chat.postMessage');
      expect(posts).toHaveLength(1);
      const blocks = posts[0]!.args.blocks as { type: string; block_id?: string }[];
      expect(blocks.filter((b) => b.type === 'actions' && b.block_id?.startsWith('actions:v-'))).toHaveLength(
        5,
      );
      expect(blocks.some((b) => b.block_id === 'alert_actions')).toBe(true);
    });
  });

  describe('re-delivery', () => {
    it('creates nothing new and posts nothing twice when the same event arrives again', async () => {
      const { groupId, ruleId } = await worldOpenSsh();
      const record = sshRecord(groupId, ruleId);
      await deliver(record);
      const first = await getItem(`ALERT#${record.eventID}`, 'ALERT');

      await deliver(record);
      await Promise.all([deliver(record), deliver(record)]);

      expect(env.slack.callsTo('chat.postMessage')).toHaveLength(1);
      const again = await getItem(`ALERT#${record.eventID}`, 'ALERT');
      expect(again).toEqual(first);
    });

    it('posts exactly once when two deliveries of a new event race', async () => {
      const { groupId, ruleId } = await worldOpenSsh();
      const record = sshRecord(groupId, ruleId);
      await Promise.all([deliver(record), deliver(record), deliver(record)]);
      expect(env.slack.callsTo('chat.postMessage')).toHaveLength(1);
    });
  });

  describe('when Slack is down', () => {
    it('keeps the violation stored and the alert marked not yet notified, due for a later sweep', async () => {
      const { groupId, ruleId } = await worldOpenSsh();
      const record = sshRecord(groupId, ruleId);
      env.slack.failNext('chat.postMessage', { kind: 'http', status: 503 }, 5);

      await deliver(record);

      const alert = await getItem(`ALERT#${record.eventID}`, 'ALERT');
      expect(alert).toMatchObject({ status: 'UNNOTIFIED', notifyAttempts: 1, gsi1pk: 'DUE#NOTIFY' });
      expect(alert!.notifyError).toEqual(expect.any(String));
      const violation = await getItem(`VIOLATION#${(alert!.violationIds as string[])[0]}`, 'VIOLATION');
      expect(violation).toMatchObject({ status: 'PENDING' });
      expect(violation!.ts).toBeUndefined();
    });

    it('answers with ok:false errors the same way', async () => {
      const { groupId, ruleId } = await worldOpenSsh();
      const record = sshRecord(groupId, ruleId);
      env.slack.failNext('chat.postMessage', { kind: 'error', error: 'not_in_channel' });
      await deliver(record);
      const alert = await getItem(`ALERT#${record.eventID}`, 'ALERT');
      expect(alert).toMatchObject({
        status: 'UNNOTIFIED',
        notifyError: expect.stringContaining('not_in_channel'),
      });
    });
  });

  describe('when Slack rate-limits the channel', () => {
    it('waits as long as Slack asks, without counting a failed attempt, and a later sweep posts once', async () => {
      const { groupId, ruleId } = await worldOpenSsh();
      const record = sshRecord(groupId, ruleId);
      env.slack.failNext('chat.postMessage', { kind: 'rate-limited', retryAfterSeconds: 30 });

      const before = Date.now();
      await deliver(record);

      const alert = await getItem(`ALERT#${record.eventID}`, 'ALERT');
      expect(alert).toMatchObject({ status: 'UNNOTIFIED', notifyAttempts: 0, gsi1pk: 'DUE#NOTIFY' });
      const dueIn = new Date(alert!.dueAt as string).getTime() - before;
      expect(dueIn).toBeGreaterThanOrEqual(30_000);
      expect(dueIn).toBeLessThan(35_000);

      const { sweep, dueHandlers, wiring } = await sweeperParts();
      // Earlier tests in this file leave their own alerts due: count only this alert's posts.
      const postsOfThisAlert = () =>
        env.slack.callsTo('chat.postMessage').filter((c) => JSON.stringify(c.args.blocks).includes(groupId));
      await sweep(wiring, dueHandlers(wiring), new Date(Date.now() + 10_000));
      expect(postsOfThisAlert()).toHaveLength(1);
      await sweep(wiring, dueHandlers(wiring), new Date(Date.now() + 40_000));
      await sweep(wiring, dueHandlers(wiring), new Date(Date.now() + 80_000));
      expect(postsOfThisAlert()).toHaveLength(2);
      expect(await getItem(`ALERT#${record.eventID}`, 'ALERT')).toMatchObject({ status: 'POSTED' });
    });
  });

  describe('a sweep that meets the rate limit', () => {
    it('stops posting after the first 429 and leaves the rest due for the next sweep', async () => {
      env.slack.failAlways('chat.postMessage', { kind: 'http', status: 503 });
      const records = [];
      for (let i = 0; i < 3; i++) {
        const { groupId, ruleId } = await worldOpenSsh();
        const record = sshRecord(groupId, ruleId);
        await deliver(record);
        records.push(record);
      }
      env.slack.clearFaults();
      env.slack.failNext('chat.postMessage', { kind: 'rate-limited', retryAfterSeconds: 1 });
      const callsBefore = env.slack.callsTo('chat.postMessage').length;
      const { sweep, dueHandlers, wiring } = await sweeperParts();

      await sweep(wiring, dueHandlers(wiring), new Date(Date.now() + 3_600_000), {
        concurrencyByKind: { NOTIFY: 1 },
      });

      // One attempt met the 429; nobody else tried in that sweep.
      expect(env.slack.callsTo('chat.postMessage').length - callsBefore).toBe(1);
      const statuses = await Promise.all(
        records.map(async (r) => (await getItem(`ALERT#${r.eventID}`, 'ALERT'))!.status),
      );
      expect(statuses).toEqual(['UNNOTIFIED', 'UNNOTIFIED', 'UNNOTIFIED']);

      await sweep(wiring, dueHandlers(wiring), new Date(Date.now() + 7_200_000), {
        concurrencyByKind: { NOTIFY: 1 },
      });
      const after = await Promise.all(
        records.map(async (r) => (await getItem(`ALERT#${r.eventID}`, 'ALERT'))!.status),
      );
      expect(after).toEqual(['POSTED', 'POSTED', 'POSTED']);
    });
  });

  describe('records without rule IDs', () => {
    it('asks EC2 for the rule IDs of an older record and stores them', async () => {
      const { groupId, ruleId } = await worldOpenSsh();
      const record = authorizeIngressRecord({
        groupId,
        withRuleIds: false,
        rules: [{ fromPort: 22, cidr: '0.0.0.0/0' }],
      });
      await deliver(record);
      const alert = await getItem(`ALERT#${record.eventID}`, 'ALERT');
      const violation = await getItem(`VIOLATION#${(alert!.violationIds as string[])[0]}`, 'VIOLATION');
      expect(violation!.rule).toMatchObject({ ruleId, fromPort: 22 });
    });

    it('raises nothing when the rule is already gone from EC2', async () => {
      const { groupId } = await createGroup(REGION);
      const record = authorizeIngressRecord({
        groupId,
        withRuleIds: false,
        rules: [{ fromPort: 22, cidr: '0.0.0.0/0' }],
      });
      const result = await deliver(record);
      expect(result.violations).toBe(0);
      expect(env.slack.callsTo('chat.postMessage')).toHaveLength(0);
    });
  });

  describe('rules that break nothing', () => {
    it('stores and posts nothing for HTTPS from anywhere', async () => {
      const { groupId } = await createGroup(REGION);
      const [ruleId] = await authorize(REGION, groupId, {
        IpProtocol: 'tcp',
        FromPort: 443,
        ToPort: 443,
        IpRanges: [{ CidrIp: '0.0.0.0/0' }],
      });
      const record = authorizeIngressRecord({
        groupId,
        rules: [{ ruleId, fromPort: 443, cidr: '0.0.0.0/0' }],
      });
      const result = await deliver(record);
      expect(result).toEqual({ processed: 1, violations: 0 });
      expect(await getItem(`ALERT#${record.eventID}`, 'ALERT')).toBeUndefined();
      expect(env.slack.calls).toHaveLength(0);
    });

    it('drops an event that is not a CloudTrail record without throwing', async () => {
      const result = await handler({
        'detail-type': 'Scheduled Event',
        detail: {},
      } as unknown as EventBridgeEvent<string, unknown>);
      expect(result).toEqual({ processed: 0, violations: 0 });
    });
  });

  describe("the bot's own grants", () => {
    // #19 case 1: this test once asserted that a rule ID recorded as sg-warden's own raised nothing
    // whatever the rule said. A record alone no longer silences a world-open rule; the rule is skipped
    // only while it is still what its grant made (whitelist.test.ts: the grant's own event).
    it('case 1: evaluates a world-open rule whose ID is recorded as granted but whose grant is not on record', async () => {
      const { groupId, ruleId } = await worldOpenSsh();
      const { PutCommand } = await import('@aws-sdk/lib-dynamodb');
      await documentClient().send(
        new PutCommand({
          TableName: env.tableName,
          Item: { pk: `OWNRULE#${REGION}#${ruleId}`, sk: 'OWNRULE', type: 'ownrule', grantId: 'g-test' },
        }),
      );
      const result = await deliver(sshRecord(groupId, ruleId));
      expect(result.violations).toBe(1);
      const posts = env.slack.callsTo('chat.postMessage');
      expect(posts).toHaveLength(1);
      expect(JSON.stringify(posts[0]!.args.blocks)).toContain(
        'a rule sg-warden made for a grant was changed by',
      );
    });
  });

  describe('rules removed outside sg-warden', () => {
    function removalRecord(
      record: Record<string, unknown>,
      eventName: string,
      requestParameters: Record<string, unknown>,
    ) {
      return {
        ...record,
        eventID: crypto.randomUUID(),
        eventName,
        requestParameters,
        responseElements: { _return: true },
      };
    }

    it('resolves a pending violation as GONE when someone revokes its rule by ID', async () => {
      const { groupId, ruleId } = await worldOpenSsh();
      const record = sshRecord(groupId, ruleId);
      await deliver(record);
      const alert = await getItem(`ALERT#${record.eventID}`, 'ALERT');
      const violationKey = `VIOLATION#${(alert!.violationIds as string[])[0]}`;
      // The revoke really happened in EC2: detection confirms it there before closing anything (#12.2).
      await ec2Client(REGION).send(
        new RevokeSecurityGroupIngressCommand({ GroupId: groupId, SecurityGroupRuleIds: [ruleId] }),
      );

      await deliver(
        removalRecord(record, 'RevokeSecurityGroupIngress', {
          groupId,
          securityGroupRuleIds: { items: [{ securityGroupRuleId: ruleId }] },
        }),
      );

      expect(await getItem(violationKey, 'VIOLATION')).toMatchObject({ status: 'GONE' });
      const update = env.slack.callsTo('chat.update').at(-1);
      expect(update?.args).toMatchObject({ channel: ALERT_CHANNEL, ts: alert!.ts });
      expect(JSON.stringify(update?.args.blocks)).toContain('Already gone');
      expect(JSON.stringify(update?.args.blocks)).not.toContain('violation_revoke');
    });

    it('resolves every pending violation of a deleted group, and only those', async () => {
      const first = await worldOpenSsh();
      const other = await worldOpenSsh();
      const recordA = authorizeIngressRecord({
        groupId: first.groupId,
        rules: [{ ruleId: first.ruleId, fromPort: 22, cidr: '0.0.0.0/0' }],
      });
      const recordB = authorizeIngressRecord({
        groupId: other.groupId,
        rules: [{ ruleId: other.ruleId, fromPort: 22, cidr: '0.0.0.0/0' }],
      });
      await deliver(recordA);
      await deliver(recordB);
      await ec2Client(REGION).send(new DeleteSecurityGroupCommand({ GroupId: first.groupId }));

      await deliver(removalRecord(recordA, 'DeleteSecurityGroup', { groupId: first.groupId }));

      const alertA = await getItem(`ALERT#${recordA.eventID}`, 'ALERT');
      const alertB = await getItem(`ALERT#${recordB.eventID}`, 'ALERT');
      expect(await getItem(`VIOLATION#${(alertA!.violationIds as string[])[0]}`, 'VIOLATION')).toMatchObject({
        status: 'GONE',
      });
      expect(await getItem(`VIOLATION#${(alertB!.violationIds as string[])[0]}`, 'VIOLATION')).toMatchObject({
        status: 'PENDING',
      });
    });
  });
});
