import {
  CreateSubnetCommand,
  RevokeSecurityGroupEgressCommand,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  EventBridgeEvent,
  SQSEvent,
} from 'aws-lambda';
import { dueHandlers, type Wiring } from '../../../handlers/wiring';
import { SsmEmulator } from '../../../local/shared/ssm-emulator';
import { scheduleName } from '../../../services/backstop/plan';
import type { GrantItem } from '../../../services/grants/items';
import { sweep } from '../../../services/kernel/sweep';
import type { ViolationItem } from '../../../services/violations/items';
import { authorize, createGroup, ec2Client, liveRuleIds } from '../../support/aws';
import { createScheduleGroup, fireDue, schedulesIn } from '../../support/backstop-harness';
import { authorizeIngressRecord, eventBridgeEvent } from '../../support/cloudtrail-factory';
import { auditOf, getGrant, getItem, grantIdIn, rulesFrom } from '../../support/grants';
import { baseConfig, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';
import { confirmLinkEvent } from '../../support/ip-link';
import { APPROVER, ENGINEER } from '../../support/slack-requests';
import { type HttpHandler, press, slash } from '../../support/slash';

/**
 * #22: every trigger the README names ends sessions the same way. The backstop (the sweeper off) ends a
 * grant's sessions (whitelist `endSessions`) and, for a violation it revoked, records whether the
 * connections were cut and sends `policy.endSessionsOnRevoke`'s command, as a person's Revoke or the
 * deadline does; "Not me — revoke" ends the sessions of a grant the owner disowns. The schedules live in
 * moto and are fired by the harness (test/support/backstop-harness.ts): EC2's revoke with the schedule's
 * exact input, as its execution role, and that call's CloudTrail record through the real detection handler.
 */

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const HERE = { account: ACCOUNT, region: REGION };
const MINUTE = 60_000;
const GROUP = `sg-warden-sessions-${Date.now().toString(36)}`;
const STAGE = 'st';
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/sg-warden-st-backstop`;
const DOCUMENT = 'sg-warden-dev-end-sessions';
const PUBLIC_URL = 'https://sg-warden.example.test';
const ASKED_FROM = 'C0ENGCHAT';
const count = (ended: number) => `sg-warden-end-sessions ended=${ended} remaining=0\n`;

type CloudTrailHandler = (event: EventBridgeEvent<string, unknown>) => Promise<unknown>;
type IpHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

let env: HandlerEnv;
let ssm: SsmEmulator;
let slackHttp: HttpHandler;
let cloudtrail: CloudTrailHandler;
let deadLetters: (event: SQSEvent) => Promise<unknown>;
let ipCapture: IpHandler;
let wiring: Wiring;
let bastion: string;
let managed: string[];
let host = 40;
let subnetOctet = 140;

async function launchIn(groupId: string, vpcId: string, n: number): Promise<string[]> {
  const ec2 = ec2Client(REGION);
  const subnet = await ec2.send(
    new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: `10.20.${subnetOctet++}.0/24` }),
  );
  const out = await ec2.send(
    new RunInstancesCommand({
      ImageId: 'ami-12c6146b',
      InstanceType: 't3.micro',
      MinCount: n,
      MaxCount: n,
      SubnetId: subnet.Subnet!.SubnetId!,
      SecurityGroupIds: [groupId],
    }),
  );
  return (out.Instances ?? []).map((i) => i.InstanceId!);
}

beforeAll(async () => {
  const b = await createGroup(REGION);
  bastion = b.groupId;
  managed = await launchIn(bastion, b.vpcId, 2);
  env = await startHandlerEnv({
    config: baseConfig(`policy:
  timeouts: { critical: 5m, high: 5m, medium: 5m, low: 5m }
  endSessionsOnRevoke: true
  # The emulator's groups expose nothing: keep their severity (this is not about exposure).
  exposure: { unattached: keep }
decisions:
  approvers: { users: [${APPROVER.id}] }
whitelist:
  targets:
    bastion:
      groupId: ${bastion}
      region: ${REGION}
      ports: [22]
      endSessions: true
      allowed: { users: [${ENGINEER.id}] }
backstop:
  grace: 2m
`),
  });
  ssm = await new SsmEmulator({ upstream: process.env.MOTO_URL! }).start();
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_SSM: ssm.url,
    SG_WARDEN_SESSIONS_DOCUMENT: DOCUMENT,
    SG_WARDEN_BACKSTOP_GROUP: GROUP,
    SG_WARDEN_BACKSTOP_ROLE_ARN: ROLE_ARN,
    SG_WARDEN_STAGE: STAGE,
    SG_WARDEN_PUBLIC_URL: PUBLIC_URL,
  });
  ssm.registerDocument(DOCUMENT);
  await createScheduleGroup(HERE, GROUP);
  ({ handler: slackHttp } = await import('../../../handlers/slack-http'));
  cloudtrail = (await import('../../../handlers/cloudtrail-event')).handler as never;
  deadLetters = (await import('../../../handlers/backstop-dead-letters')).handler as never;
  ipCapture = (await import('../../../handlers/ip-capture')).handler as never;
  wiring = (await import('../../../handlers/wiring')).getWiring();
});

afterAll(async () => {
  for (const key of [
    'AWS_ENDPOINT_URL_SSM',
    'SG_WARDEN_SESSIONS_DOCUMENT',
    'SG_WARDEN_BACKSTOP_GROUP',
    'SG_WARDEN_BACKSTOP_ROLE_ARN',
    'SG_WARDEN_STAGE',
    'SG_WARDEN_PUBLIC_URL',
  ])
    delete process.env[key];
  await ssm.stop();
  await env.stop();
});

beforeEach(() => {
  ssm.reset();
  for (const id of managed) ssm.setInstance(id, 'online');
});

const drain = () => wiring.drainJobs!();
const nextHost = () => `192.0.2.${++host}`;
const sweepAt = (minutes: number) =>
  sweep(wiring, dueHandlers(wiring), new Date(Date.now() + minutes * MINUTE));
/** The backstop's schedules due `minutesFromNow`, run as Scheduler would; their revokes reach detection. */
const fire = (minutesFromNow: number) =>
  fireDue(new Date(Date.now() + minutesFromNow * MINUTE), {
    places: [HERE],
    group: GROUP,
    onCloudTrail: (event) => cloudtrail(event as never),
    onDeadLetter: (event) => deadLetters(event),
  });
const schedule = async (itemId: string) =>
  (await schedulesIn(HERE, GROUP)).find((s) => s.Name === scheduleName(STAGE, itemId));
const violation = (id: string) => getItem<ViolationItem>(env.tableName, `VIOLATION#${id}`, 'VIOLATION');

/** Direct messages to the engineer about one grant, as text and blocks. */
function dmsAbout(grantId: string): string[] {
  return env.slack
    .callsTo('chat.postMessage')
    .filter((c) => c.args.channel === ENGINEER.id && JSON.stringify(c.args).includes(grantId))
    .map((c) => `${String(c.args.text)}\n${JSON.stringify(c.args.blocks ?? [])}`);
}

/** The alert message as last updated, blocks. */
function alertNow(ts: string): string {
  const call = env.slack
    .callsTo('chat.update')
    .filter((c) => c.args.ts === ts)
    .at(-1);
  return JSON.stringify(call?.args.blocks ?? []);
}

interface Raised {
  groupId: string;
  ruleId: string;
  violationId: string;
  ts: string;
  instances: string[];
}

/**
 * SSH open to 0.0.0.0/0 on a fresh group with one SSM-managed instance, its CloudTrail event delivered:
 * one pending violation (deadline 5 minutes) with its backstop. `tracked`: the group's default outbound
 * rule (all traffic to 0.0.0.0/0) is removed first, so AWS tracks the rule's connections.
 */
async function raise(options: { tracked: boolean }): Promise<Raised> {
  const { groupId, vpcId } = await createGroup(REGION);
  if (options.tracked)
    await ec2Client(REGION).send(
      new RevokeSecurityGroupEgressCommand({
        GroupId: groupId,
        IpPermissions: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
      }),
    );
  const [ruleId] = await authorize(REGION, groupId, {
    IpProtocol: 'tcp',
    FromPort: 22,
    ToPort: 22,
    IpRanges: [{ CidrIp: '0.0.0.0/0' }],
  });
  const instances = await launchIn(groupId, vpcId, 1);
  for (const id of instances) ssm.setInstance(id, 'online');
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
  return { groupId, ruleId: ruleId!, violationId: alert.violationIds[0]!, ts: alert.ts, instances };
}

describe('the backstop ends sessions as the sweeper would have (the sweeper off)', () => {
  it("a grant on an endSessions target: EXPIRED by the backstop, ONE command with the grant's address and port, the count in the owner's DM and the audit", async () => {
    const address = nextHost();
    const answer = await slash(
      env,
      slackHttp,
      drain,
      '/sg-whitelist',
      `bastion ${address} for 30m`,
      ENGINEER,
    );
    const grant = (await getGrant(env.tableName, grantIdIn(answer.said)))! as GrantItem;
    expect(answer.said).toContain('closes your open TCP connections');
    expect(await schedule(grant.grantId)).toBeDefined();
    ssm.script(managed[0]!, [{ status: 'Success', exitCode: 0, stdout: count(2) }]);
    ssm.script(managed[1]!, [{ status: 'Success', exitCode: 0, stdout: count(1) }]);

    // Within the grace nothing fires; then the backstop closes the rule, and detection records it.
    expect(await fire(31)).toEqual([]);
    expect(await fire(33)).toEqual([expect.objectContaining({ error: null })]);

    expect(await rulesFrom(bastion, grant.cidr)).toHaveLength(0);
    expect(await getGrant(env.tableName, grant.grantId)).toMatchObject({
      status: 'EXPIRED',
      endedBy: 'backstop',
    });
    expect(ssm.sent).toHaveLength(1);
    const sent = ssm.sent[0]!.input;
    expect(sent.DocumentName).toBe(DOCUMENT);
    expect([...sent.InstanceIds].sort()).toEqual([...managed].sort());
    expect(sent.Parameters).toEqual({ address: [`${address}/32`], fromPort: ['22'], toPort: ['22'] });
    const trail = await auditOf(env.tableName, grant.grantId);
    expect(trail.find((e) => e.action === 'expire')).toMatchObject({
      toState: 'EXPIRED',
      actorType: 'backstop',
    });
    expect(trail.find((e) => e.action === 'end-sessions')).toMatchObject({
      result: 'ok',
      actorType: 'backstop',
      details: expect.objectContaining({
        sent: true,
        document: DOCUMENT,
        address: `${address}/32`,
        fromPort: 22,
        toPort: 22,
      }),
    });
    const [ended] = dmsAbout(grant.grantId);
    expect(ended).toContain(`${grant.grantId} expired`);
    expect(ended).toContain('closing your open TCP connections');

    // The count comes when the instances have answered (the sweeper's SESSIONS_POLL, once it runs again).
    await sweepAt(1);

    const dms = dmsAbout(grant.grantId);
    expect(dms).toHaveLength(2);
    expect(dms[1]).toContain(`Closed 3 open TCP connections from ${address}/32 to port 22`);
    expect(
      (await auditOf(env.tableName, grant.grantId)).find((e) => e.action === 'sessions-ended'),
    ).toMatchObject({
      result: 'ok',
      details: expect.objectContaining({ ended: 3, remaining: 0 }),
    });
    expect(ssm.sent).toHaveLength(1);
  });

  it('a tracked violation it revoked: the alert says connections may persist, and endSessionsOnRevoke sends the command, counted in the thread and the audit', async () => {
    const r = await raise({ tracked: true });
    ssm.script(r.instances[0]!, [{ status: 'Success', exitCode: 0, stdout: count(4) }]);

    await fire(8);

    expect(await liveRuleIds(REGION, r.groupId)).not.toContain(r.ruleId);
    expect(await violation(r.violationId)).toMatchObject({
      status: 'AUTO_REVOKED',
      decidedBy: 'backstop',
      connections: { verdict: 'tracked' },
    });
    expect(alertNow(r.ts)).toContain('Auto-revoked by the backstop');
    expect(alertNow(r.ts)).toContain('Live connections may persist');
    expect(alertNow(r.ts)).toContain('no outbound rule of the group allows all TCP traffic to 0.0.0.0/0');
    expect(ssm.sent).toHaveLength(1);
    expect(ssm.sent[0]!.input).toMatchObject({
      DocumentName: DOCUMENT,
      InstanceIds: r.instances,
      Parameters: { address: ['any'], fromPort: ['22'], toPort: ['22'] },
    });
    const trail = await auditOf(env.tableName, r.violationId);
    expect(trail.find((e) => e.toState === 'AUTO_REVOKED')).toMatchObject({
      actorType: 'backstop',
      details: expect.objectContaining({ connections: 'tracked', confirmedInEc2: true }),
    });
    expect(trail.find((e) => e.action === 'end-sessions')).toMatchObject({
      actorType: 'backstop',
      result: 'ok',
      details: expect.objectContaining({ sent: true, address: 'any', fromPort: 22, toPort: 22 }),
    });

    await sweepAt(1);

    const note = env.slack
      .callsTo('chat.postMessage')
      .filter((c) => c.args.thread_ts === r.ts)
      .at(-1);
    expect(String(note?.args.text)).toContain('Closed 4 open TCP connections from any address to port 22');
    expect(
      (await auditOf(env.tableName, r.violationId)).find((e) => e.action === 'sessions-ended'),
    ).toMatchObject({ result: 'ok', details: expect.objectContaining({ ended: 4 }) });
  });

  it('an untracked violation it revoked: the alert says live connections were cut, and no command is sent', async () => {
    const r = await raise({ tracked: false });

    await fire(8);

    expect(await violation(r.violationId)).toMatchObject({
      status: 'AUTO_REVOKED',
      decidedBy: 'backstop',
      connections: { verdict: 'untracked', untracked: ['tcp'] },
    });
    expect(alertNow(r.ts)).toContain('Live connections were cut');
    expect(alertNow(r.ts)).toContain('an outbound rule allows all TCP traffic to 0.0.0.0/0');
    expect(ssm.sent).toHaveLength(0);
    expect(
      (await auditOf(env.tableName, r.violationId)).find((e) => e.toState === 'AUTO_REVOKED'),
    ).toMatchObject({ details: expect.objectContaining({ connections: 'untracked' }) });
  });
});

describe('Not me — revoke', () => {
  const confirmLink = (token: string, sourceIp: string) => confirmLinkEvent(token, sourceIp, ACCOUNT);

  it("ends the disowned grant's sessions at once: ONE command for the link's address, the count in the owner's DM and the audit", async () => {
    const asked = await slash(
      env,
      slackHttp,
      drain,
      '/sg-whitelist',
      'bastion me for 30m',
      ENGINEER,
      ASKED_FROM,
    );
    const token = new RegExp(`${PUBLIC_URL}/ip/([A-Za-z0-9_-]{43})`).exec(asked.said)?.[1];
    expect(token).toBeDefined();
    const address = nextHost();
    expect((await ipCapture(confirmLink(token!, address))).statusCode).toBe(200);
    const [rule] = await rulesFrom(bastion, `${address}/32`);
    const grantId = rule!.Tags!.find((t) => t.Key === 'sg-warden:grant-id')!.Value!;
    ssm.script(managed[0]!, [{ status: 'Success', exitCode: 0, stdout: count(1) }]);
    ssm.script(managed[1]!, [{ status: 'Success', exitCode: 0, stdout: count(0) }]);

    const owner = await press(env, slackHttp, drain, 'grant_not_me', grantId, ENGINEER, ASKED_FROM);

    expect(owner.said).toContain(`Revoked ${grantId}`);
    expect(await rulesFrom(bastion, `${address}/32`)).toHaveLength(0);
    expect(ssm.sent).toHaveLength(1);
    expect(ssm.sent[0]!.input.Parameters).toEqual({
      address: [`${address}/32`],
      fromPort: ['22'],
      toPort: ['22'],
    });
    expect([...ssm.sent[0]!.input.InstanceIds].sort()).toEqual([...managed].sort());
    expect((await auditOf(env.tableName, grantId)).find((e) => e.action === 'end-sessions')).toMatchObject({
      result: 'ok',
      actorId: ENGINEER.id,
      details: expect.objectContaining({ sent: true, address: `${address}/32`, fromPort: 22, toPort: 22 }),
    });

    await sweepAt(1);

    expect(dmsAbout(grantId).at(-1)).toContain(`Closed 1 open TCP connection from ${address}/32 to port 22`);
    expect((await auditOf(env.tableName, grantId)).find((e) => e.action === 'sessions-ended')).toMatchObject({
      result: 'ok',
      details: expect.objectContaining({ ended: 1 }),
    });
  });
});
