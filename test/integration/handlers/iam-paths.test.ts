import {
  AuthorizeSecurityGroupEgressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateManagedPrefixListCommand,
  CreateSecurityGroupCommand,
  CreateVpcCommand,
  DescribeSecurityGroupRulesCommand,
  EC2Client,
  type SecurityGroupRule,
} from '@aws-sdk/client-ec2';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
  EventBridgeEvent,
} from 'aws-lambda';
import type { Wiring } from '../../../handlers/wiring';
import { awsError } from '../../../services/aws/ec2-security-groups';
import type { GrantItem } from '../../../services/grants/items';
import type { Transition } from '../../../services/kernel/state';
import type { ViolationItem } from '../../../services/violations/items';
import { createGroup, ec2Client, uniqueName } from '../../support/aws';
import { authorizeIngressRecord, eventBridgeEvent } from '../../support/cloudtrail-factory';
import { getGrant, getItem, grantIdIn } from '../../support/grants';
import { ALERT_CHANNEL, baseConfig, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';
import { confirmLinkEvent } from '../../support/ip-link';
import { blockActionBody, ENGINEER, signedEvent } from '../../support/slack-requests';
import { type HttpHandler, slash } from '../../support/slash';

/**
 * The paths each function's IAM exists for that other suites do not drive through a handler, so that
 * the IAM simulation (test/iam/) sees every granted action made:
 * - a member account: with accounts.roleName set, detection, the clock, a person's Revoke and
 *   /sg-whitelist (grant, extend, expiry, the `me` link) act on a group in another account through the
 *   member role (moto's AssumeRole hands out that account's credentials), evaluated against
 *   infra/member-account-role.yml;
 * - outbound rules in the bot's own account, revoked by the clock and by a person;
 * - the `me` link's two repair paths: adopting a rule whose authorize answer was lost, and taking a rule
 *   out again when its grant could not be recorded.
 */

const OWN = '123456789012';
const MEMBER = '210987654321';
const REGION = 'eu-west-1';
const PUBLIC_URL = 'https://sg-warden.example.test';

type CloudTrailHandler = (event: EventBridgeEvent<string, unknown>) => Promise<unknown>;
type IpHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

let env: HandlerEnv;
let member: EC2Client;
const own = ec2Client(REGION);
let target: string;
let slackHttp: HttpHandler;
let cloudtrail: CloudTrailHandler;
let sweeper: () => Promise<unknown>;
let ipCapture: IpHandler;
let wiring: Wiring;
let bastion: string;

async function memberEc2(): Promise<EC2Client> {
  const sts = new STSClient({ region: REGION, endpoint: process.env.MOTO_URL! });
  const out = await sts.send(
    new AssumeRoleCommand({
      RoleArn: `arn:aws:iam::${MEMBER}:role/sg-warden-member`,
      RoleSessionName: 'test',
    }),
  );
  const c = out.Credentials!;
  return new EC2Client({
    region: REGION,
    endpoint: process.env.MOTO_URL!,
    credentials: {
      accessKeyId: c.AccessKeyId!,
      secretAccessKey: c.SecretAccessKey!,
      sessionToken: c.SessionToken!,
    },
  });
}

async function memberGroup(tags: Record<string, string> = {}): Promise<string> {
  const vpc = await member.send(new CreateVpcCommand({ CidrBlock: '10.30.0.0/16' }));
  const group = await member.send(
    new CreateSecurityGroupCommand({
      GroupName: uniqueName('member'),
      Description: 'member account group',
      VpcId: vpc.Vpc!.VpcId!,
      ...(Object.keys(tags).length > 0
        ? {
            TagSpecifications: [
              {
                ResourceType: 'security-group' as const,
                Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
              },
            ],
          }
        : {}),
    }),
  );
  return group.GroupId!;
}

async function memberRules(groupId: string, ec2 = member): Promise<SecurityGroupRule[]> {
  const out = await ec2.send(
    new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [groupId] }] }),
  );
  return out.SecurityGroupRules ?? [];
}

const SSH_TO_WORLD = { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] };

/** A world-open SSH rule (inbound or outbound) in a fresh group, its CloudTrail event delivered. */
async function raise(
  direction: 'ingress' | 'egress',
  where: 'member' | 'own' = 'member',
): Promise<{ groupId: string; ruleId: string; violation: ViolationItem }> {
  const ec2 = where === 'member' ? member : own;
  const groupId = where === 'member' ? await memberGroup() : (await createGroup(REGION)).groupId;
  const out =
    direction === 'ingress'
      ? await ec2.send(
          new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [SSH_TO_WORLD] }),
        )
      : await ec2.send(
          new AuthorizeSecurityGroupEgressCommand({ GroupId: groupId, IpPermissions: [SSH_TO_WORLD] }),
        );
  const ruleId = out.SecurityGroupRules![0]!.SecurityGroupRuleId!;
  const record = authorizeIngressRecord({
    groupId,
    region: REGION,
    account: where === 'member' ? MEMBER : OWN,
    rules: [{ ruleId, fromPort: 22, cidr: '0.0.0.0/0' }],
    ...(direction === 'egress' ? { eventName: 'AuthorizeSecurityGroupEgress' as const } : {}),
  });
  await cloudtrail(eventBridgeEvent(record) as unknown as EventBridgeEvent<string, unknown>);
  const alert = await getItem<{ violationIds: string[] }>(env.tableName, `ALERT#${record.eventID}`, 'ALERT');
  const violation = await getItem<ViolationItem>(
    env.tableName,
    `VIOLATION#${alert!.violationIds[0]}`,
    'VIOLATION',
  );
  return { groupId, ruleId, violation: violation! };
}

async function pressRevoke(violation: ViolationItem): Promise<void> {
  await slackHttp(
    signedEvent(
      blockActionBody({
        actionId: 'violation_revoke',
        value: violation.violationId,
        user: ENGINEER,
        channel: ALERT_CHANNEL,
        messageTs: violation.ts!,
        responseUrl: env.slack.responseUrl(),
      }),
    ),
    {} as Context,
  );
  await wiring.drainJobs!();
}

const violationNow = (v: ViolationItem) =>
  getItem<ViolationItem>(env.tableName, `VIOLATION#${v.violationId}`, 'VIOLATION');

async function sweepAt(minutesFromNow: number): Promise<void> {
  const realClock = wiring.clock;
  wiring.clock = () => new Date(Date.now() + minutesFromNow * 60_000);
  try {
    await sweeper();
  } finally {
    wiring.clock = realClock;
  }
}

const whitelist = (text: string) =>
  slash(env, slackHttp, () => wiring.drainJobs!(), '/sg-whitelist', text, ENGINEER);

const linkPost = (token: string, sourceIp: string) => confirmLinkEvent(token, sourceIp, OWN);

beforeAll(async () => {
  member = await memberEc2();
  target = await memberGroup({ 'sg-warden:whitelist-target': 'yes' });
  bastion = (await createGroup(REGION)).groupId;
  env = await startHandlerEnv({
    config: baseConfig(`policy:
  evaluateEgress: true
  timeouts: { high: 15m }
  # A group nothing uses keeps its severity here: these tests are about other things (exposure has its own).
  exposure: { unattached: keep }
accounts:
  roleName: sg-warden-member
  watched: ['${MEMBER}']
whitelist:
  targets:
    member-bastion:
      groupId: ${target}
      region: ${REGION}
      account: "${MEMBER}"
      ports: [22]
      defaultDuration: 1h
      maxDuration: 8h
      allowed: { users: [${ENGINEER.id}] }
    bastion:
      groupId: ${bastion}
      region: ${REGION}
      ports: [22]
      allowed: { users: [${ENGINEER.id}] }
`),
  });
  process.env.SG_WARDEN_ACCOUNT_ID = OWN;
  process.env.SG_WARDEN_PUBLIC_URL = PUBLIC_URL;
  ({ handler: slackHttp } = await import('../../../handlers/slack-http'));
  ({ handler: cloudtrail } = (await import('../../../handlers/cloudtrail-event')) as unknown as {
    handler: CloudTrailHandler;
  });
  ({ handler: sweeper } = (await import('../../../handlers/sweeper')) as unknown as {
    handler: () => Promise<unknown>;
  });
  ({ handler: ipCapture } = await import('../../../handlers/ip-capture'));
  wiring = (await import('../../../handlers/wiring')).getWiring();
});

afterAll(async () => {
  delete process.env.SG_WARDEN_ACCOUNT_ID;
  delete process.env.SG_WARDEN_PUBLIC_URL;
  await env.stop();
});

describe('a member account, through the member role', () => {
  it('judges a rule whose source is a member-account prefix list by the list entries, read there', async () => {
    const list = await member.send(
      new CreateManagedPrefixListCommand({
        PrefixListName: uniqueName('pl'),
        AddressFamily: 'IPv4',
        MaxEntries: 5,
        Entries: [{ Cidr: '0.0.0.0/0' }],
      }),
    );
    const prefixListId = list.PrefixList!.PrefixListId!;
    const groupId = await memberGroup();
    const out = await member.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: groupId,
        IpPermissions: [
          { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, PrefixListIds: [{ PrefixListId: prefixListId }] },
        ],
      }),
    );
    const ruleId = out.SecurityGroupRules![0]!.SecurityGroupRuleId!;
    const record = authorizeIngressRecord({
      groupId,
      region: REGION,
      account: MEMBER,
      rules: [{ ruleId, fromPort: 22, prefixListId }],
    });
    await cloudtrail(eventBridgeEvent(record) as unknown as EventBridgeEvent<string, unknown>);
    const alert = await getItem<{ violationIds: string[] }>(
      env.tableName,
      `ALERT#${record.eventID}`,
      'ALERT',
    );
    const violation = await getItem<ViolationItem>(
      env.tableName,
      `VIOLATION#${alert!.violationIds[0]}`,
      'VIOLATION',
    );
    expect(violation).toMatchObject({
      account: MEMBER,
      rule: expect.objectContaining({ source: prefixListId }),
    });
    expect(violation!.reasons[0]).toContain(`prefix list ${prefixListId} holds 0.0.0.0/0`);
  });

  it('detects world-open inbound and outbound rules there, and the clock revokes both there', async () => {
    const inbound = await raise('ingress');
    const outbound = await raise('egress');
    expect([inbound.violation.account, outbound.violation.account]).toEqual([MEMBER, MEMBER]);
    expect([inbound.violation.rule.direction, outbound.violation.rule.direction]).toEqual([
      'ingress',
      'egress',
    ]);

    await sweepAt(16);

    for (const raised of [inbound, outbound]) {
      expect((await memberRules(raised.groupId)).map((r) => r.SecurityGroupRuleId)).not.toContain(
        raised.ruleId,
      );
      const after = await getItem<ViolationItem>(
        env.tableName,
        `VIOLATION#${raised.violation.violationId}`,
        'VIOLATION',
      );
      expect(after).toMatchObject({ status: 'AUTO_REVOKED', account: MEMBER });
    }
  });

  it('revokes an outbound rule there when a person presses Revoke (the worker’s job)', async () => {
    const raised = await raise('egress');

    await pressRevoke(raised.violation);

    expect((await memberRules(raised.groupId)).map((r) => r.SecurityGroupRuleId)).not.toContain(
      raised.ruleId,
    );
    expect(await violationNow(raised.violation)).toMatchObject({ status: 'REVOKED', decidedBy: ENGINEER.id });
  });

  it('grants, extends and expires a /sg-whitelist grant on a member account’s target', async () => {
    const answer = await whitelist('member-bastion 198.51.100.77 for 1h');
    const grantId = grantIdIn(answer.said);
    const granted = (await getGrant(env.tableName, grantId))!;
    expect(granted).toMatchObject({ status: 'ACTIVE', account: MEMBER, groupId: target });
    const rule = (await memberRules(target)).find((r) => r.SecurityGroupRuleId === granted.ruleId);
    expect(rule?.CidrIpv4).toBe('198.51.100.77/32');

    await whitelist(`extend ${grantId} 2h`);
    const extended = (await getGrant(env.tableName, grantId)) as GrantItem;
    expect(new Date(extended.expiresAt).getTime()).toBeGreaterThan(new Date(granted.expiresAt).getTime());
    const relabelled = (await memberRules(target)).find((r) => r.SecurityGroupRuleId === granted.ruleId);
    expect(relabelled?.Description).toContain(grantId);

    await sweepAt(4 * 60);

    expect((await getGrant(env.tableName, grantId))?.status).toBe('EXPIRED');
    expect((await memberRules(target)).map((r) => r.SecurityGroupRuleId)).not.toContain(granted.ruleId);
  });

  it('grants the address of a `me` link’s POST on a member account’s target (ipCapture)', async () => {
    const answer = await whitelist('member-bastion me for 30m');
    const token = new RegExp(`${PUBLIC_URL}/ip/([A-Za-z0-9_-]{43})`).exec(answer.said)?.[1];
    expect(token).toBeDefined();

    const page = await ipCapture(linkPost(token!, '203.0.113.88'));

    expect(page.statusCode).toBe(200);
    const rule = (await memberRules(target)).find((r) => r.CidrIpv4 === '203.0.113.88/32');
    expect(rule?.Tags?.map((t) => t.Key)).toContain('sg-warden:grant-id');
  });
});

describe('the bot’s own account: outbound rules', () => {
  it('the clock revokes a world-open outbound rule, and so does a person’s Revoke', async () => {
    const byClock = await raise('egress', 'own');
    await sweepAt(16);
    expect(await violationNow(byClock.violation)).toMatchObject({ status: 'AUTO_REVOKED', account: OWN });
    expect((await memberRules(byClock.groupId, own)).map((r) => r.SecurityGroupRuleId)).not.toContain(
      byClock.ruleId,
    );

    const byPerson = await raise('egress', 'own');
    await pressRevoke(byPerson.violation);
    expect(await violationNow(byPerson.violation)).toMatchObject({ status: 'REVOKED', account: OWN });
    expect((await memberRules(byPerson.groupId, own)).map((r) => r.SecurityGroupRuleId)).not.toContain(
      byPerson.ruleId,
    );
  });
});

describe('the `me` link’s repair paths (ipCapture)', () => {
  afterEach(() => jest.restoreAllMocks());

  async function link(): Promise<string> {
    const answer = await whitelist('bastion me for 30m');
    const token = new RegExp(`${PUBLIC_URL}/ip/([A-Za-z0-9_-]{43})`).exec(answer.said)?.[1];
    if (!token) throw new Error(`no link in: ${answer.said}`);
    return token;
  }

  it('adopts the rule EC2 added when the answer to the authorize was lost (found by its tag)', async () => {
    const token = await link();
    const real = wiring.ec2.authorizeIngress.bind(wiring.ec2);
    jest.spyOn(wiring.ec2, 'authorizeIngress').mockImplementationOnce(async (at, grant) => {
      await real(at, grant);
      throw awsError('AuthorizeSecurityGroupIngress', { name: 'TimeoutError', message: 'socket hang up' });
    });

    const page = await ipCapture(linkPost(token, '203.0.113.90'));

    expect(page.statusCode).toBe(200);
    expect((await memberRules(bastion, own)).filter((r) => r.CidrIpv4 === '203.0.113.90/32')).toHaveLength(1);
  });

  it('takes the rule out again when its grant cannot be recorded', async () => {
    const token = await link();
    const realTransition = wiring.store.transition.bind(wiring.store);
    jest.spyOn(wiring.store, 'transition').mockImplementation((async (t: Transition) => {
      if (t.key.pk.startsWith('GRANT#') && t.to === 'ACTIVE') throw new Error('DynamoDB is unavailable');
      return realTransition(t);
    }) as typeof wiring.store.transition);

    await ipCapture(linkPost(token, '203.0.113.91'));

    expect((await memberRules(bastion, own)).filter((r) => r.CidrIpv4 === '203.0.113.91/32')).toEqual([]);
  });
});
