import { AuthorizeSecurityGroupIngressCommand, EC2Client, type IpPermission } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { EventBridgeEvent } from 'aws-lambda';
import type { Wiring } from '../../../handlers/wiring';
import type { StoredAuditEntry } from '../../../services/kernel/audit';
import type { ViolationItem } from '../../../services/violations/items';
import { authorize, liveRuleIds } from '../../support/aws';
import { type AwsFaults, startFaultyAws } from '../../support/aws-faults';
import { authorizeIngressRecord, eventBridgeEvent } from '../../support/cloudtrail-factory';
import { getItem } from '../../support/grants';
import { baseConfig, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';
import {
  buildNetworkWorld,
  createAlbInWorld,
  createWorldGroup,
  launchInWorld,
  type NetworkWorld,
} from '../../support/network-world';
import { ENGINEER } from '../../support/slack-requests';
import { type HttpHandler, type SlackExchange, slash } from '../../support/slash';
import type { SlowProxy } from '../../support/slow-proxy';

/**
 * Severity that knows what is exposed (#14), through the real handlers: worlds built through the SDK in
 * the emulator (VPCs with public and private subnets, an internet gateway, instances, ELBv2 load
 * balancers), detection grading a world-open SSH rule by its group's exposure, the alert's context line
 * as the Slack emulator recorded it, the clock looking again before it revokes, `/sg-status <group>`, and
 * a member account read through the member role. Every handler call to AWS goes through a counting proxy
 * that can fail one as AWS would.
 */

type CloudTrailHandler = (event: EventBridgeEvent<string, unknown>) => Promise<unknown>;

const OWN = '123456789012';
const MEMBER = '210987654321';
const REGION = 'eu-west-1';
const EXPOSURE_READS = [
  'DescribeNetworkInterfaces',
  'DescribeRouteTables',
  'DescribeTags',
  'DescribeLoadBalancers',
];
const SSH_TO_WORLD: IpPermission = {
  IpProtocol: 'tcp',
  FromPort: 22,
  ToPort: 22,
  IpRanges: [{ CidrIp: '0.0.0.0/0' }],
};

let env: HandlerEnv;
let proxy: SlowProxy;
let faults: AwsFaults;
let cloudtrail: CloudTrailHandler;
let sweeper: () => Promise<unknown>;
let slackHttp: HttpHandler;
let wiring: Wiring;
let world: NetworkWorld;
let memberWorld: NetworkWorld;
let memberEc2: EC2Client;
let memberElb: ElasticLoadBalancingV2Client;

async function memberClients(): Promise<{ ec2: EC2Client; elb: ElasticLoadBalancingV2Client }> {
  const endpoint = process.env.MOTO_URL!;
  const out = await new STSClient({ region: REGION, endpoint }).send(
    new AssumeRoleCommand({
      RoleArn: `arn:aws:iam::${MEMBER}:role/sg-warden-member`,
      RoleSessionName: 'test',
    }),
  );
  const c = out.Credentials!;
  const options = {
    region: REGION,
    endpoint,
    credentials: {
      accessKeyId: c.AccessKeyId!,
      secretAccessKey: c.SecretAccessKey!,
      sessionToken: c.SessionToken!,
    },
  };
  return { ec2: new EC2Client(options), elb: new ElasticLoadBalancingV2Client(options) };
}

/** The exposure reads the handlers made since the proxy was last reset, as "Action". */
function exposureReads(): string[] {
  return proxy.calls.filter((c) => EXPOSURE_READS.includes(c.action)).map((c) => c.action);
}

interface Raised {
  violation: ViolationItem;
  ruleId: string;
  /** The blocks of the alert's message, as the Slack emulator recorded its chat.postMessage. */
  blocks: { type: string; text?: { text: string }; elements?: { text: string }[] }[];
}

/** Opens SSH to the world on the group (in its account) and delivers CloudTrail's event to detection. */
async function raise(groupId: string, account = OWN): Promise<Raised> {
  const ruleId =
    account === OWN
      ? (await authorize(REGION, groupId, SSH_TO_WORLD))[0]!
      : (
          await memberEc2.send(
            new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [SSH_TO_WORLD] }),
          )
        ).SecurityGroupRules![0]!.SecurityGroupRuleId!;
  const record = authorizeIngressRecord({
    groupId,
    region: REGION,
    account,
    rules: [{ ruleId, fromPort: 22, cidr: '0.0.0.0/0' }],
  });
  env.slack.reset();
  proxy.reset();
  await cloudtrail(eventBridgeEvent(record) as unknown as EventBridgeEvent<string, unknown>);
  const alert = await getItem<{ violationIds: string[] }>(env.tableName, `ALERT#${record.eventID}`, 'ALERT');
  const violation = await violationNow(alert!.violationIds[0]!);
  const post = env.slack
    .callsTo('chat.postMessage')
    .find((c) => JSON.stringify(c.args.blocks).includes(ruleId));
  return { violation: violation!, ruleId, blocks: (post?.args.blocks ?? []) as Raised['blocks'] };
}

const violationNow = (violationId: string) =>
  getItem<ViolationItem>(env.tableName, `VIOLATION#${violationId}`, 'VIOLATION');

/** The context lines of an alert's blocks. */
const contextLines = (blocks: Raised['blocks']) =>
  blocks.filter((b) => b.type === 'context').map((b) => b.elements?.[0]?.text ?? '');

const headerOf = (blocks: Raised['blocks']) => blocks.find((b) => b.type === 'header')?.text?.text ?? '';

/** Minutes from the violation's creation to its deadline. */
const deadlineMinutes = (v: ViolationItem) =>
  Math.round((Date.parse(v.deadline!) - Date.parse(v.createdAt)) / 60_000);

async function sweepAt(minutesFromNow: number): Promise<void> {
  const realClock = wiring.clock;
  wiring.clock = () => new Date(Date.now() + minutesFromNow * 60_000);
  try {
    await sweeper();
  } finally {
    wiring.clock = realClock;
  }
}

function status(text: string): Promise<SlackExchange> {
  return slash(env, slackHttp, () => wiring.drainJobs!(), '/sg-status', text, ENGINEER);
}

beforeAll(async () => {
  ({ ec2: memberEc2, elb: memberElb } = await memberClients());
  [world, memberWorld] = await Promise.all([buildNetworkWorld(REGION), buildNetworkWorld(REGION, memberEc2)]);
  env = await startHandlerEnv({
    config: baseConfig(`policy:
  timeouts: { critical: 5m, high: 15m, medium: 1h, low: null }
accounts:
  roleName: sg-warden-member
  watched: ['${MEMBER}']
`),
  });
  ({ proxy, faults } = await startFaultyAws());
  // Every AWS call of the handlers goes through the counting proxy (the test's own calls go to moto).
  process.env.AWS_ENDPOINT_URL = proxy.url;
  ({ handler: cloudtrail } = (await import('../../../handlers/cloudtrail-event')) as unknown as {
    handler: CloudTrailHandler;
  });
  ({ handler: sweeper } = (await import('../../../handlers/sweeper')) as unknown as {
    handler: () => Promise<unknown>;
  });
  ({ handler: slackHttp } = await import('../../../handlers/slack-http'));
  wiring = (await import('../../../handlers/wiring')).getWiring();
}, 120_000);

afterAll(async () => {
  await env.stop();
  await proxy.stop();
});

beforeEach(() => faults.clear());

describe('detection grades a finding by its group’s exposure', () => {
  it('raises a world-open SSH rule on an internet-reachable instance’s group to critical, says why, and the alert shows it', async () => {
    const groupId = await createWorldGroup(world);
    const web = await launchInWorld(world, {
      subnetId: world.publicSubnets[0],
      groupIds: [groupId],
      name: 'web-1',
      publicIp: true,
    });

    const { violation, blocks } = await raise(groupId);

    expect(violation).toMatchObject({ severity: 'critical', action: 'alert', status: 'PENDING' });
    expect(deadlineMinutes(violation)).toBe(5);
    expect(violation.reasons.slice(-2)).toEqual([
      `reachable from the internet through ${web.instanceId} (web-1, ${web.publicIp})`,
      'severity raised from high to critical (policy.exposure.internet: raise)',
    ]);
    expect(violation.exposure).toMatchObject({
      exposure: 'internet',
      from: 'high',
      change: 'raised',
      attachmentCount: 1,
      failures: [],
      attachments: [
        {
          type: 'instance',
          id: web.instanceId,
          name: 'web-1',
          publicIp: web.publicIp,
          subnetId: world.publicSubnets[0],
          routesToInternet: true,
          exposure: 'internet',
        },
      ],
    });
    // At most three reads for the group: its interfaces, their route tables, the instance's Name tag.
    expect(exposureReads()).toEqual(['DescribeNetworkInterfaces', 'DescribeRouteTables', 'DescribeTags']);
    // The alert, by its final severity, with the exposure line under the rule.
    expect(headerOf(blocks)).toMatch(/^CRITICAL: a risky rule on /);
    expect(JSON.stringify(blocks)).toContain(':red_circle: *CRITICAL*');
    expect(contextLines(blocks)).toContain(
      `Exposure: internet · ${web.instanceId} (web-1, ${web.publicIp}) · high → critical`,
    );
    const audit = await wiring.store.auditFor(violation.violationId);
    expect(audit.find((e) => e.action === 'detect')?.details).toMatchObject({
      severity: 'critical',
      exposure: 'internet',
      severityBeforeExposure: 'high',
    });
  });

  it('lowers a rule on a group nothing uses one step, with the lowered severity’s deadline', async () => {
    const groupId = await createWorldGroup(world);

    const { violation, blocks } = await raise(groupId);

    expect(violation).toMatchObject({ severity: 'medium', action: 'alert' });
    expect(deadlineMinutes(violation)).toBe(60);
    expect(violation.reasons.slice(-2)).toEqual([
      'no network interface uses this group now',
      'severity lowered from high to medium (policy.exposure.unattached: lower); the medium deadline applies (1h)',
    ]);
    expect(violation.exposure).toMatchObject({ exposure: 'unattached', attachments: [], attachmentCount: 0 });
    // No interface: nothing more to read.
    expect(exposureReads()).toEqual(['DescribeNetworkInterfaces']);
    expect(headerOf(blocks)).toMatch(/^MEDIUM: a risky rule on /);
    expect(contextLines(blocks)).toContain(
      'Exposure: unattached · no network interface uses this group now · high → medium',
    );
  });

  it('keeps the severity when the lookup fails: unknown, naming the read that failed', async () => {
    const groupId = await createWorldGroup(world);
    await launchInWorld(world, {
      subnetId: world.publicSubnets[1],
      groupIds: [groupId],
      name: 'web-2',
      publicIp: true,
    });
    faults.add({
      service: 'ec2',
      action: 'DescribeNetworkInterfaces',
      when: (body) => body.includes(groupId),
      times: 5,
      error: { code: 'UnauthorizedOperation', status: 403, message: 'You are not authorized' },
    });

    const { violation, blocks } = await raise(groupId);

    expect(faults.injectedInto('DescribeNetworkInterfaces', 'UnauthorizedOperation')).toHaveLength(1);
    expect(violation).toMatchObject({ severity: 'high', action: 'alert' });
    expect(deadlineMinutes(violation)).toBe(15);
    expect(violation.reasons.at(-1)).toBe(
      'exposure unknown: DescribeNetworkInterfaces failed (UnauthorizedOperation)',
    );
    expect(violation.exposure).toMatchObject({
      exposure: 'unknown',
      change: 'kept',
      failures: ['DescribeNetworkInterfaces failed (UnauthorizedOperation)'],
    });
    expect(headerOf(blocks)).toMatch(/^HIGH: a risky rule on /);
    expect(contextLines(blocks)).toContain(
      'Exposure: unknown · not read: DescribeNetworkInterfaces failed (UnauthorizedOperation)',
    );
  });

  it('keeps the severity of a group behind an internal load balancer', async () => {
    const groupId = await createWorldGroup(world);
    const lb = await createAlbInWorld(world, {
      name: `int-${Date.now() % 100000}`,
      scheme: 'internal',
      groupIds: [groupId],
    });

    const { violation, blocks } = await raise(groupId);

    expect(violation).toMatchObject({ severity: 'high' });
    expect(deadlineMinutes(violation)).toBe(15);
    expect(violation.exposure).toMatchObject({
      exposure: 'internal',
      change: 'kept',
      attachments: [{ type: 'load-balancer', id: lb.arnTail, exposure: 'internal' }],
    });
    expect(exposureReads()).toEqual([
      'DescribeNetworkInterfaces',
      'DescribeRouteTables',
      'DescribeLoadBalancers',
    ]);
    const name = lb.arnTail.split('/')[1];
    expect(contextLines(blocks)).toContain(`Exposure: internal · load balancer ${name} (internal)`);
  });

  it('raises a group of an internet-facing load balancer by its scheme, even without public addresses of its own', async () => {
    const groupId = await createWorldGroup(world);
    const lb = await createAlbInWorld(world, {
      name: `pub-${Date.now() % 100000}`,
      scheme: 'internet-facing',
      groupIds: [groupId],
    });

    const { violation } = await raise(groupId);

    expect(violation).toMatchObject({ severity: 'critical' });
    expect(violation.reasons).toContain(
      `reachable from the internet through load balancer ${lb.arnTail.split('/')[1]} (internet-facing)`,
    );
    expect(exposureReads()).toHaveLength(3);
  });

  it('names three of a group’s attachments of mixed classes in the alert, the most exposed first, and "and N more"', async () => {
    const groupId = await createWorldGroup(world);
    const lb = await createAlbInWorld(world, {
      name: `mix-${Date.now() % 100000}`,
      scheme: 'internal',
      groupIds: [groupId],
    });
    const web = await launchInWorld(world, {
      subnetId: world.publicSubnets[0],
      groupIds: [groupId],
      name: 'web-3',
      publicIp: true,
    });
    const workers = [];
    for (const n of [1, 2]) {
      workers.push(
        await launchInWorld(world, {
          subnetId: world.privateSubnets[0],
          groupIds: [groupId],
          name: `worker-${n}`,
          publicIp: false,
        }),
      );
    }

    const { violation, blocks } = await raise(groupId);

    expect(violation).toMatchObject({ severity: 'critical' });
    expect(violation.exposure).toMatchObject({ exposure: 'internet', attachmentCount: 4 });
    expect(violation.exposure!.attachments.map((a) => a.exposure)).toEqual([
      'internet',
      'internal',
      'internal',
      'internal',
    ]);
    expect(violation.exposure!.attachments[0]).toMatchObject({ id: web.instanceId, publicIp: web.publicIp });
    expect(violation.exposure!.attachments.map((a) => a.id).sort()).toEqual(
      [web.instanceId, lb.arnTail, ...workers.map((w) => w.instanceId)].sort(),
    );
    // Still three reads: the load balancer's scheme was the one that could tell something.
    expect(exposureReads()).toEqual([
      'DescribeNetworkInterfaces',
      'DescribeRouteTables',
      'DescribeLoadBalancers',
    ]);
    const line = contextLines(blocks).find((l) => l.startsWith('Exposure:'))!;
    expect(line).toMatch(
      new RegExp(
        `^Exposure: internet · ${web.instanceId} \\(${web.publicIp!.replace(/\./g, '\\.')}\\), .+, .+ and 1 more · high → critical$`,
      ),
    );
  });
});

describe('the clock looks the exposure up again before it revokes', () => {
  it('records the exposure it found at the auto-revoke on the violation, in the audit entry and in the message', async () => {
    const groupId = await createWorldGroup(world);
    const { violation, ruleId } = await raise(groupId);
    expect(violation.exposure?.exposure).toBe('unattached');
    // Attached since: an instance with a public address in a routed subnet.
    const web = await launchInWorld(world, {
      subnetId: world.publicSubnets[0],
      groupIds: [groupId],
      name: 'late-web',
      publicIp: true,
    });
    env.slack.reset();

    await sweepAt(61);

    expect(await liveRuleIds(REGION, groupId)).not.toContain(ruleId);
    const after = await violationNow(violation.violationId);
    expect(after).toMatchObject({ status: 'AUTO_REVOKED', decidedBy: 'timeout', severity: 'medium' });
    expect(after!.exposureAtRevoke).toMatchObject({
      exposure: 'internet',
      attachments: [{ id: web.instanceId, name: 'late-web', publicIp: web.publicIp }],
    });
    const audit: StoredAuditEntry[] = await wiring.store.auditFor(violation.violationId);
    expect(audit.find((e) => e.toState === 'AUTO_REVOKED')?.details).toMatchObject({
      exposure: 'internet',
      exposureReason: `reachable from the internet through ${web.instanceId} (late-web, ${web.publicIp})`,
    });
    const update = env.slack
      .callsTo('chat.update')
      .filter((c) => JSON.stringify(c.args.blocks).includes(violation.violationId))
      .at(-1)!;
    expect(contextLines(update.args.blocks as Raised['blocks'])).toContain(
      `Exposure at the auto-revoke: internet · ${web.instanceId} (late-web, ${web.publicIp}) · when raised: unattached`,
    );
  });

  it('records an internal load balancer’s group as internal when it revokes', async () => {
    const groupId = await createWorldGroup(world);
    await createAlbInWorld(world, {
      name: `clk-${Date.now() % 100000}`,
      scheme: 'internal',
      groupIds: [groupId],
    });
    const { violation, ruleId } = await raise(groupId);
    proxy.reset();

    await sweepAt(16);

    expect(await liveRuleIds(REGION, groupId)).not.toContain(ruleId);
    const after = await violationNow(violation.violationId);
    expect(after).toMatchObject({ status: 'AUTO_REVOKED', exposureAtRevoke: { exposure: 'internal' } });
    expect(exposureReads()).toContain('DescribeLoadBalancers');
  });

  it('never holds the revoke back when the lookup fails: revoked, exposure recorded as unknown', async () => {
    const groupId = await createWorldGroup(world);
    const { violation, ruleId } = await raise(groupId);
    faults.add({
      service: 'ec2',
      action: 'DescribeNetworkInterfaces',
      when: (body) => body.includes(groupId),
      times: 5,
      error: { code: 'RequestLimitExceeded', status: 503, message: 'Request limit exceeded.' },
    });

    await sweepAt(61);

    expect(faults.injectedInto('DescribeNetworkInterfaces').length).toBeGreaterThanOrEqual(1);
    expect(await liveRuleIds(REGION, groupId)).not.toContain(ruleId);
    const after = await violationNow(violation.violationId);
    expect(after).toMatchObject({ status: 'AUTO_REVOKED', exposureAtRevoke: { exposure: 'unknown' } });
    expect(after!.exposureAtRevoke!.failures).toEqual([
      'DescribeNetworkInterfaces failed (RequestLimitExceeded)',
    ]);
  });
});

describe('/sg-status <group>', () => {
  it('shows what the group is attached to and whether the internet reaches it', async () => {
    const web = await createWorldGroup(world);
    const instance = await launchInWorld(world, {
      subnetId: world.publicSubnets[1],
      groupIds: [web],
      name: 'status-web',
      publicIp: true,
    });
    const behindLb = await createWorldGroup(world);
    const lb = await createAlbInWorld(world, {
      name: `st-${Date.now() % 100000}`,
      scheme: 'internal',
      groupIds: [behindLb],
    });

    const [first, second] = [await status(`${web} ${REGION}`), await status(`${behindLb} ${REGION}`)];

    expect(first.said).toContain(':globe_with_meridians: *Exposure: internet*');
    expect(first.said).toContain(
      `reachable from the internet through ${instance.instanceId} (status-web, ${instance.publicIp})`,
    );
    expect(first.said).toContain(
      `• ${instance.instanceId} (status-web, ${instance.publicIp}): internet, public address ${instance.publicIp} in a subnet routed to ${world.internetGatewayId}`,
    );
    expect(second.said).toContain(':house: *Exposure: internal*');
    expect(second.said).toContain(
      `• load balancer ${lb.arnTail.split('/')[1]} (internal): internal, internal load balancer`,
    );
  });
});

describe('a member account', () => {
  it('looks the exposure up there through the member role, at detection and before the auto-revoke', async () => {
    const web = await createWorldGroup(memberWorld, 'member-exposure', memberEc2);
    const instance = await launchInWorld(memberWorld, {
      subnetId: memberWorld.publicSubnets[0],
      groupIds: [web],
      name: 'member-web',
      publicIp: true,
      ec2: memberEc2,
    });
    const behindLb = await createWorldGroup(memberWorld, 'member-exposure', memberEc2);
    await createAlbInWorld(memberWorld, {
      name: `mem-${Date.now() % 100000}`,
      scheme: 'internal',
      groupIds: [behindLb],
      ec2: memberEc2,
      elb: memberElb,
    });

    const onWeb = await raise(web, MEMBER);
    const onLb = await raise(behindLb, MEMBER);

    expect(onWeb.violation).toMatchObject({ account: MEMBER, severity: 'critical' });
    expect(onWeb.violation.reasons).toContain(
      `reachable from the internet through ${instance.instanceId} (member-web, ${instance.publicIp})`,
    );
    expect(onLb.violation).toMatchObject({ account: MEMBER, severity: 'high' });
    expect(onLb.violation.exposure?.exposure).toBe('internal');

    await sweepAt(16);

    for (const raised of [onWeb, onLb]) {
      const after = await violationNow(raised.violation.violationId);
      expect(after).toMatchObject({ status: 'AUTO_REVOKED', account: MEMBER });
      expect(after!.exposureAtRevoke?.exposure).toBe(raised.violation.exposure?.exposure);
    }
  });
});
