import { CreateScheduleCommand } from '@aws-sdk/client-scheduler';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
  EventBridgeEvent,
  SQSEvent,
} from 'aws-lambda';
import { dueHandlers, type Wiring } from '../../../handlers/wiring';
import { scheduleName } from '../../../services/backstop/plan';
import type { GrantItem } from '../../../services/grants/items';
import { sweep } from '../../../services/kernel/sweep';
import { AwsCallError } from '../../../services/shared/errors';
import { violationIdFor } from '../../../services/shared/ids';
import type { ViolationItem } from '../../../services/violations/items';
import { authorize, createGroup, liveRuleIds } from '../../support/aws';
import { createScheduleGroup, fireDue, schedulerIn, schedulesIn } from '../../support/backstop-harness';
import {
  authorizeIngressRecord,
  eventBridgeEvent,
  revokeIngressRecord,
} from '../../support/cloudtrail-factory';
import { auditOf, getGrant, getItem, grantIdIn, rulesFrom } from '../../support/grants';
import { ALERT_CHANNEL, baseConfig, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';
import { confirmLinkEvent } from '../../support/ip-link';
import { APPROVER, ENGINEER, signedEvent, viewSubmissionBody } from '../../support/slack-requests';
import { type HttpHandler, slash } from '../../support/slash';

/**
 * The backstop (#22): a one-time EventBridge Scheduler schedule per due rule, kept in moto, fired by the
 * harness (test/support/backstop-harness.ts) as AWS would: EC2's revoke with the schedule's exact Input,
 * as its execution role, and that call's CloudTrail record to detection. The sweeper never runs in these
 * tests unless one says so: the backstop alone closes the rules.
 */

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const MINUTE = 60_000;
const GROUP = `sg-warden-backstop-${Date.now().toString(36)}`;
const STAGE = 'bt';
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/sg-warden-bt-backstop`;
const HERE = { account: ACCOUNT, region: REGION };
const context = {} as Context;

let env: HandlerEnv;
let slackHttp: HttpHandler;
let cloudtrail: (event: EventBridgeEvent<string, unknown>) => Promise<unknown>;
let deadLetters: (event: SQSEvent) => Promise<{ batchItemFailures: unknown[] }>;
let ipCapture: (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;
const PUBLIC_URL = 'https://sg-warden.example.test';
let wiring: Wiring;
let bastion: string;
let host = 20;
const metrics: { name: string; dimensions?: Record<string, string> }[] = [];

beforeAll(async () => {
  bastion = (await createGroup(REGION)).groupId;
  env = await startHandlerEnv({
    config: baseConfig(`policy:
  timeouts: { critical: 5m, high: 15m, medium: 1h, low: null }
  # The emulator's groups have nothing attached: keep their severity (this is not about exposure).
  exposure: { unattached: keep }
decisions:
  approvers: { users: [${APPROVER.id}] }
whitelist:
  targets:
    bastion:
      groupId: ${bastion}
      region: ${REGION}
      ports: [22]
      defaultDuration: 1h
      maxDuration: 4h
      allowed: { users: [${ENGINEER.id}] }
backstop:
  grace: 2m
`),
  });
  Object.assign(process.env, {
    SG_WARDEN_BACKSTOP_GROUP: GROUP,
    SG_WARDEN_BACKSTOP_ROLE_ARN: ROLE_ARN,
    SG_WARDEN_STAGE: STAGE,
    SG_WARDEN_PUBLIC_URL: PUBLIC_URL,
  });
  await createScheduleGroup(HERE, GROUP);
  ({ handler: slackHttp } = await import('../../../handlers/slack-http'));
  cloudtrail = (await import('../../../handlers/cloudtrail-event')).handler as never;
  deadLetters = (await import('../../../handlers/backstop-dead-letters')).handler as never;
  ipCapture = (await import('../../../handlers/ip-capture')).handler as never;
  wiring = (await import('../../../handlers/wiring')).getWiring();
});

beforeEach(() => {
  metrics.length = 0;
  jest.spyOn(wiring.metrics, 'add').mockImplementation((name, _value, dimensions) => {
    metrics.push({ name, ...(dimensions ? { dimensions } : {}) });
  });
});

afterAll(() => env.stop());
afterEach(() => jest.restoreAllMocks());

const fire = (minutesFromNow: number) =>
  fireDue(new Date(Date.now() + minutesFromNow * MINUTE), {
    places: [HERE],
    group: GROUP,
    onCloudTrail: (event) => cloudtrail(event as never),
    onDeadLetter: (event) => deadLetters(event),
  });
const schedule = async (itemId: string) =>
  (await schedulesIn(HERE, GROUP)).find((s) => s.Name === scheduleName(STAGE, itemId));
/** The due time plus the 2-minute grace, up to the whole second: the schedule's `at(…)`. */
const fireTime = (due: string) =>
  new Date(Math.ceil((Date.parse(due) + 2 * MINUTE) / 1000) * 1000).toISOString().slice(0, 19);
const violation = (id: string) => getItem<ViolationItem>(env.tableName, `VIOLATION#${id}`, 'VIOLATION');

async function grantFor(text: string): Promise<GrantItem> {
  host += 1;
  const answer = await slash(
    env,
    slackHttp,
    () => wiring.drainJobs!(),
    '/sg-whitelist',
    `bastion 192.0.2.${host} ${text}`,
    ENGINEER,
  );
  return (await getGrant(env.tableName, grantIdIn(answer.said)))!;
}

/** A world-open SSH rule (high: 15 minutes), its CloudTrail event delivered: one pending violation. */
async function raise(): Promise<{ groupId: string; ruleId: string; violationId: string; ts: string }> {
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
  await cloudtrail(eventBridgeEvent(record) as never);
  const alert = (await getItem<{ violationIds: string[]; ts: string }>(
    env.tableName,
    `ALERT#${record.eventID}`,
    'ALERT',
  ))!;
  return { groupId, ruleId: ruleId!, violationId: alert.violationIds[0]!, ts: alert.ts };
}

function keep(violationId: string, ts: string) {
  const metadata = JSON.stringify({ violationIds: [violationId], channel: ALERT_CHANNEL, ts });
  return slackHttp(
    signedEvent(
      viewSubmissionBody({
        callbackId: 'keep_modal',
        privateMetadata: metadata,
        user: APPROVER,
        values: {
          keep_justification: { justification_input: { type: 'plain_text_input', value: 'load test' } },
          keep_duration: {
            duration_select: {
              type: 'static_select',
              selected_option: { text: { type: 'plain_text', text: 'x' }, value: '3600' },
            },
          },
        },
      }),
    ) as APIGatewayProxyEventV2,
    context,
  );
}

describe('the backstop, with the sweeper off', () => {
  it("closes a grant's rule within grace + 1 minute of its expiry, and detection records it as the backstop's", async () => {
    const grant = await grantFor('for 30m');
    const made = (await schedule(grant.grantId))!;
    expect(made).toMatchObject({
      ScheduleExpression: `at(${fireTime(grant.expiresAt)})`,
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
      Target: {
        Arn: 'arn:aws:scheduler:::aws-sdk:ec2:revokeSecurityGroupIngress',
        RoleArn: ROLE_ARN,
        Input: JSON.stringify({ GroupId: bastion, SecurityGroupRuleIds: [grant.ruleId] }),
        RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 3600 },
        DeadLetterConfig: { Arn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${GROUP}-dlq` },
      },
    });

    // Within the grace the backstop waits for the sweeper.
    expect(await fire(31)).toEqual([]);
    const fired = await fire(33);

    expect(fired).toEqual([expect.objectContaining({ error: null })]);
    expect(await rulesFrom(bastion, grant.cidr)).toHaveLength(0);
    expect(await schedule(grant.grantId)).toBeUndefined();
    expect(await getGrant(env.tableName, grant.grantId)).toMatchObject({
      status: 'EXPIRED',
      endedBy: 'backstop',
    });
    expect((await auditOf(env.tableName, grant.grantId)).at(-1)).toMatchObject({
      action: 'expire',
      fromState: 'ACTIVE',
      toState: 'EXPIRED',
      actorType: 'backstop',
      details: expect.objectContaining({ confirmedInEc2: true, ruleId: grant.ruleId }),
    });
    const dm = env.slack
      .callsTo('chat.postMessage')
      .filter((c) => c.args.channel === ENGINEER.id)
      .at(-1);
    expect(String(dm?.args.text)).toContain(`${grant.grantId} expired`);
    expect(metrics).toContainEqual({ name: 'BackstopFired' });
  });

  it("closes an unanswered violation's rule within grace + 1 minute of its deadline: state, message, metric", async () => {
    const r = await raise();
    const v = (await violation(r.violationId))!;
    expect((await schedule(r.violationId))?.ScheduleExpression).toBe(`at(${fireTime(v.deadline!)})`);
    metrics.length = 0;

    await fire(18);

    expect(await liveRuleIds(REGION, r.groupId)).not.toContain(r.ruleId);
    const revoked = (await violation(r.violationId))!;
    expect(revoked).toMatchObject({ status: 'AUTO_REVOKED', decidedBy: 'backstop' });
    expect(revoked.dueKind).toBeUndefined();
    const update = env.slack
      .callsTo('chat.update')
      .filter((c) => c.args.ts === r.ts)
      .at(-1);
    expect(JSON.stringify(update?.args.blocks)).toContain('Auto-revoked by the backstop');
    expect(JSON.stringify(update?.args.blocks)).toContain('the sweeper was late');
    expect(metrics).toContainEqual({ name: 'BackstopFired' });
    expect(metrics).toContainEqual({
      name: 'Decisions',
      dimensions: { outcome: 'AUTO_REVOKED', actorType: 'backstop' },
    });
    // A sweep afterwards finds nothing left to do.
    const summary = await sweep(wiring, dueHandlers(wiring), new Date(Date.now() + 20 * MINUTE));
    expect(summary.DEADLINE?.due ?? 0).toBe(0);
  });

  it('a revoke event that claims to be the backstop changes nothing while EC2 still has the rule', async () => {
    const r = await raise();
    const record = authorizeIngressRecord({ groupId: r.groupId, rules: [] });
    const forged = {
      ...record,
      eventName: 'RevokeSecurityGroupIngress',
      userIdentity: {
        type: 'AssumedRole',
        arn: `arn:aws:sts::${ACCOUNT}:assumed-role/sg-warden-bt-backstop/forged`,
        accountId: ACCOUNT,
        sessionContext: { sessionIssuer: { type: 'Role', arn: ROLE_ARN, accountId: ACCOUNT } },
      },
      requestParameters: {
        groupId: r.groupId,
        securityGroupRuleIds: { items: [{ securityGroupRuleId: r.ruleId }] },
      },
    };
    await cloudtrail(eventBridgeEvent(forged) as never);
    expect(await violation(r.violationId)).toMatchObject({ status: 'PENDING' });
    expect(await liveRuleIds(REGION, r.groupId)).toContain(r.ruleId);
  });
});

describe('the sweeper first, the backstop behind it', () => {
  it('the sweeper revokes at the deadline and deletes the schedule: nothing fires later', async () => {
    const r = await raise();
    await sweep(wiring, dueHandlers(wiring), new Date(Date.now() + 16 * MINUTE));
    expect(await violation(r.violationId)).toMatchObject({ status: 'AUTO_REVOKED', decidedBy: 'timeout' });
    expect(await schedule(r.violationId)).toBeUndefined();
    expect(await fire(30)).not.toContainEqual(
      expect.objectContaining({ name: scheduleName(STAGE, r.violationId) }),
    );
  });

  it('Keep deletes the schedule before the decision is recorded: a kept rule is never revoked by it', async () => {
    const r = await raise();
    const schedules = wiring.backstop!.schedules;
    const remove = schedules.remove.bind(schedules);
    const seenAtDelete: string[] = [];
    jest.spyOn(schedules, 'remove').mockImplementation(async (target, name) => {
      seenAtDelete.push((await violation(r.violationId))!.status);
      return remove(target, name);
    });

    await keep(r.violationId, r.ts);
    await wiring.drainJobs!();

    expect(seenAtDelete).toEqual(['PENDING']);
    expect(await violation(r.violationId)).toMatchObject({ status: 'KEPT' });
    expect(await schedule(r.violationId)).toBeUndefined();
    await fire(30);
    expect(await liveRuleIds(REGION, r.groupId)).toContain(r.ruleId);
  });

  it('Keep after the backstop fired is refused: the rule was already auto-revoked', async () => {
    const r = await raise();
    await fire(18);
    await keep(r.violationId, r.ts);
    await wiring.drainJobs!();
    expect(await violation(r.violationId)).toMatchObject({ status: 'AUTO_REVOKED', decidedBy: 'backstop' });
    expect((await auditOf(env.tableName, r.violationId)).at(-1)).toMatchObject({
      action: 'keep',
      result: 'refused',
    });
  });

  it('a failing DeleteSchedule leaves the violation pending, not kept, with the reason in its thread', async () => {
    const r = await raise();
    jest.spyOn(wiring.backstop!.schedules, 'remove').mockRejectedValue(
      new AwsCallError('DeleteSchedule failed: ThrottlingException: Rate exceeded', {
        awsCode: 'ThrottlingException',
      }),
    );

    await keep(r.violationId, r.ts);
    await wiring.drainJobs!();

    expect(await violation(r.violationId)).toMatchObject({ status: 'PENDING' });
    expect(await schedule(r.violationId)).toBeDefined();
    expect((await auditOf(env.tableName, r.violationId)).at(-1)).toMatchObject({
      action: 'keep',
      result: 'refused',
      details: expect.objectContaining({ code: 'BACKSTOP_NOT_REMOVED' }),
    });
    const note = env.slack
      .callsTo('chat.postMessage')
      .filter((c) => c.args.thread_ts === r.ts)
      .at(-1);
    expect(String(note?.args.text)).toContain('backstop schedule could not be deleted');
    expect(String(note?.args.text)).toContain('ThrottlingException');
  });

  it('Extend moves the schedule before the new expiry is recorded: no grant outlives its backstop', async () => {
    const grant = await grantFor('for 30m');
    const schedules = wiring.backstop!.schedules;
    const move = schedules.move.bind(schedules);
    const seen: string[] = [];
    jest.spyOn(schedules, 'move').mockImplementation(async (s) => {
      seen.push((await getGrant(env.tableName, grant.grantId))!.expiresAt);
      return move(s);
    });

    await slash(
      env,
      slackHttp,
      () => wiring.drainJobs!(),
      '/sg-whitelist',
      `extend ${grant.grantId} 1h`,
      ENGINEER,
    );

    const extended = (await getGrant(env.tableName, grant.grantId))!;
    expect(extended.expiresAt > grant.expiresAt).toBe(true);
    expect(seen).toEqual([grant.expiresAt]);
    expect((await schedule(grant.grantId))?.ScheduleExpression).toBe(`at(${fireTime(extended.expiresAt)})`);
    // The old time passes: the backstop waits for the new one.
    expect((await fire(33)).map((f) => f.name)).not.toContain(scheduleName(STAGE, grant.grantId));
    expect(await rulesFrom(bastion, grant.cidr)).toHaveLength(1);
  });

  it('an Extend whose schedule cannot be moved is refused, and the grant keeps its expiry', async () => {
    const grant = await grantFor('for 30m');
    jest.spyOn(wiring.backstop!.schedules, 'move').mockRejectedValue(
      new AwsCallError('UpdateSchedule failed: AccessDeniedException: no', {
        awsCode: 'AccessDeniedException',
      }),
    );
    const answer = await slash(
      env,
      slackHttp,
      () => wiring.drainJobs!(),
      '/sg-whitelist',
      `extend ${grant.grantId} 1h`,
      ENGINEER,
    );
    expect(answer.said).toContain('BACKSTOP_NOT_MOVED');
    expect((await getGrant(env.tableName, grant.grantId))!.expiresAt).toBe(grant.expiresAt);
  });

  it('a backstop whose rule is already gone lands in the dead-letter queue and is reconciled, not paged', async () => {
    const r = await raise();
    // The sweeper revokes at the deadline, but the schedule cannot be deleted (told in the thread).
    const schedules = wiring.backstop!.schedules;
    const remove = schedules.remove.bind(schedules);
    jest.spyOn(schedules, 'remove').mockImplementation(async (target, name) => {
      if (name !== scheduleName(STAGE, r.violationId)) return remove(target, name);
      throw new AwsCallError('DeleteSchedule failed: InternalServerException', {
        awsCode: 'InternalServerException',
      });
    });
    await sweep(wiring, dueHandlers(wiring), new Date(Date.now() + 16 * MINUTE));
    expect(await violation(r.violationId)).toMatchObject({ status: 'AUTO_REVOKED', decidedBy: 'timeout' });
    metrics.length = 0;

    const fired = await fire(18);

    const mine = fired.find((f) => f.name === scheduleName(STAGE, r.violationId));
    expect(mine?.error?.code).toMatch(/NotFound/);
    expect(await violation(r.violationId)).toMatchObject({ status: 'AUTO_REVOKED', decidedBy: 'timeout' });
    const trail = await auditOf(env.tableName, r.violationId);
    expect(trail.find((a) => a.action === 'backstop-dead-letter')).toMatchObject({
      action: 'backstop-dead-letter',
      result: 'ok',
      details: expect.objectContaining({ ruleId: r.ruleId, note: expect.stringContaining('already gone') }),
    });
    expect(metrics).toContainEqual({ name: 'BackstopDeadLetters', dimensions: { outcome: 'already-gone' } });
    expect(metrics.map((m) => m.name)).not.toContain('BackstopFailed');
    expect(metrics.map((m) => m.name)).not.toContain('BackstopFired');
  });

  it('a schedule that cannot be created is told in the thread and audited; the sweeper still revokes', async () => {
    jest.spyOn(wiring.backstop!.schedules, 'put').mockRejectedValueOnce(
      new AwsCallError('CreateSchedule failed: ResourceNotFoundException: Schedule group missing', {
        awsCode: 'ResourceNotFoundException',
      }),
    );
    const r = await raise();
    expect(await schedule(r.violationId)).toBeUndefined();
    expect((await auditOf(env.tableName, r.violationId)).map((a) => a.action)).toContain('backstop-unarmed');
    const note = env.slack
      .callsTo('chat.postMessage')
      .filter((c) => c.args.thread_ts === r.ts)
      .at(-1);
    expect(String(note?.args.text)).toContain(`No backstop for violation ${r.violationId}`);

    await sweep(wiring, dueHandlers(wiring), new Date(Date.now() + 16 * MINUTE));
    expect(await liveRuleIds(REGION, r.groupId)).not.toContain(r.ruleId);
    expect(await violation(r.violationId)).toMatchObject({ status: 'AUTO_REVOKED', decidedBy: 'timeout' });
  });

  it('a grant whose schedule cannot be created stands: told in the channel it was asked from, audited, and the sweeper still expires it', async () => {
    jest.spyOn(wiring.backstop!.schedules, 'put').mockRejectedValueOnce(
      new AwsCallError(
        'CreateSchedule failed: AccessDeniedException: not authorized to perform iam:PassRole',
        {
          awsCode: 'AccessDeniedException',
        },
      ),
    );
    const grant = await grantFor('for 30m');

    expect(grant.status).toBe('ACTIVE');
    expect(await rulesFrom(bastion, grant.cidr)).toHaveLength(1);
    expect(await schedule(grant.grantId)).toBeUndefined();
    expect(
      (await auditOf(env.tableName, grant.grantId)).find((a) => a.action === 'backstop-unarmed'),
    ).toMatchObject({
      result: 'error',
      actorType: 'system',
      error: expect.stringContaining('AccessDeniedException'),
      details: expect.objectContaining({
        schedule: scheduleName(STAGE, grant.grantId),
        ruleId: grant.ruleId,
      }),
    });
    // The slash command came from C0ENGCHAT (test/support/slash.ts): the note goes where the grant was asked.
    const note = env.slack
      .callsTo('chat.postMessage')
      .filter((c) => c.args.channel === 'C0ENGCHAT' && String(c.args.text).includes(grant.grantId))
      .at(-1);
    expect(String(note?.args.text)).toContain(`No backstop for grant ${grant.grantId}`);
    expect(String(note?.args.text)).toContain('AccessDeniedException');
    expect(String(note?.args.text)).toContain(`sweeper still removes the rule at ${grant.expiresAt}`);
    // Nothing for the backstop to fire: the sweeper is the only path, and it does as always.
    expect((await fire(33)).map((f) => f.name)).not.toContain(scheduleName(STAGE, grant.grantId));
    expect(await rulesFrom(bastion, grant.cidr)).toHaveLength(1);

    await sweep(wiring, dueHandlers(wiring), new Date(Date.now() + 31 * MINUTE));

    expect(await rulesFrom(bastion, grant.cidr)).toHaveLength(0);
    expect(await getGrant(env.tableName, grant.grantId)).toMatchObject({
      status: 'EXPIRED',
      endedBy: 'timeout',
    });
  });
});

describe('every path that makes, moves or removes a backstop', () => {
  const confirmLink = (token: string, sourceIp: string) => confirmLinkEvent(token, sourceIp, ACCOUNT);

  async function link(text: string): Promise<string> {
    const answer = await slash(env, slackHttp, () => wiring.drainJobs!(), '/sg-whitelist', text, ENGINEER);
    const match = new RegExp(`${PUBLIC_URL}/ip/([A-Za-z0-9_-]{43})`).exec(answer.said);
    if (!match) throw new Error(`no link in: ${answer.said}`);
    return match[1]!;
  }

  it('a grant made through a `me` link gets its backstop', async () => {
    host += 1;
    const address = `192.0.2.${host}`;
    const page = await ipCapture(confirmLink(await link('bastion me for 30m'), address));
    expect(page.statusCode).toBe(200);
    const [rule] = await rulesFrom(bastion, `${address}/32`);
    const grantId = rule!.Tags!.find((t) => t.Key === 'sg-warden:grant-id')!.Value!;
    const first = (await getGrant(env.tableName, grantId))!;
    expect((await schedule(grantId))?.ScheduleExpression).toBe(`at(${fireTime(first.expiresAt)})`);
  });

  it('a rule removed by hand (detection confirms it gone) takes its backstop with it', async () => {
    const r = await raise();
    await (await import('../../support/aws')).ec2Client(REGION).send(
      new (await import('@aws-sdk/client-ec2')).RevokeSecurityGroupIngressCommand({
        GroupId: r.groupId,
        SecurityGroupRuleIds: [r.ruleId],
      }),
    );
    await cloudtrail(
      eventBridgeEvent(revokeIngressRecord({ groupId: r.groupId, ruleIds: [r.ruleId] })) as never,
    );
    expect(await violation(r.violationId)).toMatchObject({ status: 'GONE' });
    expect(await schedule(r.violationId)).toBeUndefined();
  });

  it('an event delivered again finds its schedule made and makes it what it should be (same name, no second one)', async () => {
    const { groupId } = await createGroup(REGION);
    const [ruleId] = await authorize(REGION, groupId, {
      IpProtocol: 'tcp',
      FromPort: 3389,
      ToPort: 3389,
      IpRanges: [{ CidrIp: '0.0.0.0/0' }],
    });
    const record = authorizeIngressRecord({
      groupId,
      rules: [{ ruleId: ruleId!, fromPort: 3389, cidr: '0.0.0.0/0' }],
    });
    const violationId = violationIdFor(
      String(record.eventID),
      {
        groupId,
        ruleId: ruleId!,
        direction: 'ingress',
        protocol: 'tcp',
        fromPort: 3389,
        toPort: 3389,
        source: '0.0.0.0/0',
        sourceKind: 'ipv4',
        description: null,
      },
      0,
    );
    // A half-done first delivery left a schedule behind, pointing nowhere useful.
    await (await schedulerIn(HERE)).send(
      new CreateScheduleCommand({
        Name: scheduleName(STAGE, violationId),
        GroupName: GROUP,
        ScheduleExpression: 'at(2099-01-01T00:00:00)',
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: {
          Arn: 'arn:aws:scheduler:::aws-sdk:ec2:revokeSecurityGroupIngress',
          RoleArn: ROLE_ARN,
          Input: '{}',
        },
      }),
    );

    await cloudtrail(eventBridgeEvent(record) as never);

    const v = (await violation(violationId))!;
    expect(v.status).toBe('PENDING');
    const made = (await schedulesIn(HERE, GROUP)).filter((s) => s.Name === scheduleName(STAGE, violationId));
    expect(made).toHaveLength(1);
    expect(made[0]).toMatchObject({
      ScheduleExpression: `at(${fireTime(v.deadline!)})`,
      Target: { Input: JSON.stringify({ GroupId: groupId, SecurityGroupRuleIds: [ruleId] }) },
    });
  });

  it('a kept rule asked about again when its Keep runs out gets a new backstop for its new deadline', async () => {
    const r = await raise();
    await keep(r.violationId, r.ts);
    await wiring.drainJobs!();
    expect(await violation(r.violationId)).toMatchObject({ status: 'KEPT' });

    await sweep(wiring, dueHandlers(wiring), new Date(Date.now() + 61 * MINUTE));

    const trail = await auditOf(env.tableName, r.violationId);
    const reopenedAs = trail.map((a) => a.details?.reopenedAs).find((id) => typeof id === 'string') as string;
    expect(reopenedAs).toMatch(/^v-/);
    const again = (await violation(reopenedAs))!;
    expect(again).toMatchObject({ status: 'PENDING' });
    expect((await schedule(reopenedAs))?.ScheduleExpression).toBe(`at(${fireTime(again.deadline!)})`);
  });
});
