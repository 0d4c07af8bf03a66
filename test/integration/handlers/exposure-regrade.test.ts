import {
  AllocateAddressCommand,
  AssociateAddressCommand,
  AssociateRouteTableCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  type IpPermission,
  ModifyNetworkInterfaceAttributeCommand,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
  EventBridgeEvent,
} from 'aws-lambda';
import type { Wiring } from '../../../handlers/wiring';
import { ruleFingerprint } from '../../../services/shared/ids';
import type { AlertItem, ExceptionItem, ViolationItem } from '../../../services/violations/items';
import { authorize, ec2Client } from '../../support/aws';
import { type AwsFaults, startFaultyAws } from '../../support/aws-faults';
import {
  authorizeIngressRecord,
  eventBridgeEvent,
  exposureChangeRecord,
} from '../../support/cloudtrail-factory';
import { auditOf, getItem } from '../../support/grants';
import { ALERT_CHANNEL, baseConfig, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';
import {
  buildNetworkWorld,
  createWorldGroup,
  launchInWorld,
  type NetworkWorld,
} from '../../support/network-world';
import { APPROVER, blockActionBody, signedEvent, viewSubmissionBody } from '../../support/slack-requests';
import type { SlowProxy } from '../../support/slow-proxy';

/**
 * When the ground moves, the answer changes (#20), through the real handlers against worlds built through
 * the SDK in the emulator: a call that changes what a group exposes without touching a rule (an address
 * associated, an interface moved into the group, a route to an internet gateway, instances launched)
 * re-grades the group's rules. Every handler call to AWS goes through a counting proxy.
 */

type CloudTrailHandler = (event: EventBridgeEvent<string, unknown>) => Promise<unknown>;
type HttpHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const ALICE = `arn:aws:sts::${ACCOUNT}:assumed-role/Admin/alice`;
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
const MAX_GROUPS = 3;

let env: HandlerEnv;
let proxy: SlowProxy;
let faults: AwsFaults;
let cloudtrail: CloudTrailHandler;
let slackHttp: HttpHandler;
let sweeper: () => Promise<unknown>;
let wiring: Wiring;
let world: NetworkWorld;
const ec2 = () => ec2Client(REGION);
/** The JSON log lines the handlers wrote (warn and above). */
const lines: { msg?: string; [key: string]: unknown }[] = [];

interface Raised {
  groupId: string;
  ruleId: string;
  violation: ViolationItem;
  alert: AlertItem;
}

const violationNow = (id: string) => getItem<ViolationItem>(env.tableName, `VIOLATION#${id}`, 'VIOLATION');
const alertNow = (id: string) => getItem<AlertItem>(env.tableName, `ALERT#${id}`, 'ALERT');
const exceptionNow = (groupId: string, ruleId: string) =>
  getItem<ExceptionItem>(
    env.tableName,
    `EXCEPTION#${ruleFingerprint(ACCOUNT, REGION, {
      groupId,
      ruleId,
      direction: 'ingress',
      protocol: 'tcp',
      fromPort: 22,
      toPort: 22,
      source: '0.0.0.0/0',
      sourceKind: 'ipv4',
      description: null,
    })}`,
    'EXCEPTION',
  );

/** Opens SSH to the world on the group and delivers its CloudTrail event: one alert, graded by exposure. */
async function raise(groupId: string): Promise<Raised> {
  const [ruleId] = await authorize(REGION, groupId, SSH_TO_WORLD);
  const record = authorizeIngressRecord({
    groupId,
    region: REGION,
    rules: [{ ruleId: ruleId!, fromPort: 22, cidr: '0.0.0.0/0' }],
  });
  await cloudtrail(eventBridgeEvent(record) as unknown as EventBridgeEvent<string, unknown>);
  const alert = (await alertNow(String(record.eventID)))!;
  return { groupId, ruleId: ruleId!, violation: (await violationNow(alert.violationIds[0]!))!, alert };
}

/** Keeps a violation for a day through the Slack door (button, dialog, submit), as an approver does. */
async function keep(r: Raised): Promise<void> {
  const triggerId = `${Date.now()}.keep`;
  await slackHttp(
    signedEvent(
      blockActionBody({
        actionId: 'violation_keep',
        value: r.violation.violationId,
        user: APPROVER,
        messageTs: r.alert.ts!,
        channel: ALERT_CHANNEL,
        responseUrl: env.slack.responseUrl(),
        triggerId,
      }),
    ),
    {} as Context,
  );
  const open = env.slack.callsTo('views.open').find((c) => c.args.trigger_id === triggerId)!;
  const metadata = (open.args.view as { private_metadata: string }).private_metadata;
  await wiring.drainJobs!();
  await slackHttp(
    signedEvent(
      viewSubmissionBody({
        callbackId: 'keep_modal',
        privateMetadata: metadata,
        user: APPROVER,
        values: {
          keep_justification: {
            justification_input: { type: 'plain_text_input', value: 'internal only, behind the VPN' },
          },
          keep_duration: {
            duration_select: {
              type: 'static_select',
              selected_option: { text: { type: 'plain_text', text: '1 day' }, value: '86400' },
            },
          },
        },
      }),
    ),
    {} as Context,
  );
  await wiring.drainJobs!();
  expect((await violationNow(r.violation.violationId))!.status).toBe('KEPT');
}

/** Delivers an exposure-change record to detection, as EventBridge does. */
async function deliver(record: Record<string, unknown>): Promise<void> {
  await cloudtrail(eventBridgeEvent(record) as unknown as EventBridgeEvent<string, unknown>);
}

function associateAddressRecord(instanceId: string, allocationId: string): Record<string, unknown> {
  return exposureChangeRecord({
    eventName: 'AssociateAddress',
    region: REGION,
    principalArn: ALICE,
    requestParameters: { allocationId, instanceId, allowReassociation: false },
  });
}

/** Gives an instance an Elastic IP in the emulator; returns the address and its allocation. */
async function associateElasticIp(instanceId: string): Promise<{ ip: string; allocationId: string }> {
  const address = await ec2().send(new AllocateAddressCommand({ Domain: 'vpc' }));
  await ec2().send(
    new AssociateAddressCommand({ AllocationId: address.AllocationId!, InstanceId: instanceId }),
  );
  return { ip: address.PublicIp!, allocationId: address.AllocationId! };
}

/** The calls the handlers made since the proxy was reset, by action. */
const callsOf = (action: string) => proxy.calls.filter((c) => c.action === action).length;
const exposureReads = () => proxy.calls.filter((c) => EXPOSURE_READS.includes(c.action)).length;

/** The text of a Slack call's blocks. */
const textOf = (args: Record<string, unknown>) => JSON.stringify(args.blocks ?? []);

const level = process.env.SG_WARDEN_LOG_LEVEL;

beforeAll(async () => {
  // pino writes through process.stdout.write when it has been replaced before the logger is built.
  const write = process.stdout.write.bind(process.stdout);
  jest.spyOn(process.stdout, 'write').mockImplementation(((chunk: unknown, ...rest: unknown[]) => {
    const text = String(chunk);
    if (!text.startsWith('{"level"')) return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    for (const line of text.split('\n').filter(Boolean)) lines.push(JSON.parse(line));
    return true;
  }) as typeof process.stdout.write);
  world = await buildNetworkWorld(REGION);
  env = await startHandlerEnv({
    config: baseConfig(`policy:
  timeouts: { critical: 5m, high: 15m, medium: 1h, low: null }
  exposure: { maxGroupsPerEvent: ${MAX_GROUPS} }
decisions:
  approvers: { users: [${APPROVER.id}] }
`),
  });
  ({ proxy, faults } = await startFaultyAws());
  process.env.AWS_ENDPOINT_URL = proxy.url;
  process.env.SG_WARDEN_LOG_LEVEL = 'warn';
  ({ handler: cloudtrail } = (await import('../../../handlers/cloudtrail-event')) as unknown as {
    handler: CloudTrailHandler;
  });
  ({ handler: slackHttp } = await import('../../../handlers/slack-http'));
  ({ handler: sweeper } = (await import('../../../handlers/sweeper')) as unknown as {
    handler: () => Promise<unknown>;
  });
  wiring = (await import('../../../handlers/wiring')).getWiring();
  process.env.SG_WARDEN_LOG_LEVEL = level;
}, 120_000);

afterAll(async () => {
  jest.restoreAllMocks();
  await env.stop();
  await proxy.stop();
});

beforeEach(() => {
  faults.clear();
  proxy.reset();
  env.slack.reset();
});

describe('#20 a kept rule whose group becomes reachable from the internet', () => {
  it('ends the exception granted at internal and asks again in its thread, naming the change and alice', async () => {
    const groupId = await createWorldGroup(world, 'regrade-kept');
    // In a public subnet, but with no public address: internal.
    const web = await launchInWorld(world, {
      subnetId: world.publicSubnets[0],
      groupIds: [groupId],
      name: 'web-1',
      publicIp: false,
    });
    const r = await raise(groupId);
    expect(r.violation).toMatchObject({ severity: 'high', exposure: { exposure: 'internal' } });
    await keep(r);
    expect(await exceptionNow(groupId, r.ruleId)).toMatchObject({
      status: 'ACTIVE',
      grantedAt: { exposure: 'internal' },
    });

    const { ip, allocationId } = await associateElasticIp(web.instanceId);
    env.slack.reset();
    const record = associateAddressRecord(web.instanceId, allocationId);
    await deliver(record);

    const ex = (await exceptionNow(groupId, r.ruleId))!;
    expect(ex.status).toBe('EXPIRED');
    const reaskId = `regrade-${r.violation.violationId}-${ex.version - 1}`;
    const reask = (await alertNow(reaskId))!;
    expect(reask).toMatchObject({
      status: 'POSTED',
      eventName: 'AssociateAddress',
      actor: { arn: ALICE },
      reopenedFrom: r.violation.violationId,
      thread: { channel: ALERT_CHANNEL, ts: r.alert.ts },
    });
    const v = (await violationNow(reask.violationIds[0]!))!;
    expect(v).toMatchObject({
      status: 'PENDING',
      severity: 'critical',
      exposure: { exposure: 'internet' },
      previousKeep: { byName: APPROVER.name, grantedAt: 'internal' },
      exposureChange: {
        direction: 'rose',
        from: 'internal',
        to: 'internet',
        by: 'Admin/alice',
        what: `associated ${allocationId} with ${web.instanceId}`,
        reason: `reachable from the internet through ${web.instanceId} (web-1, ${ip})`,
        eventId: record.eventID,
      },
    });
    expect(Date.parse(v.deadline!) - Date.parse(v.createdAt)).toBe(5 * 60_000);

    // Asked in the thread where it was kept (and shown in the channel), with the change and who made it.
    const [post] = env.slack.callsTo('chat.postMessage');
    expect(post!.args).toMatchObject({
      channel: ALERT_CHANNEL,
      thread_ts: r.alert.ts,
      // Form-encoded, as the Web API sends it.
      reply_broadcast: 'true',
    });
    const text = textOf(post!.args);
    expect(text).toContain(`now reachable from the internet through ${web.instanceId} (web-1, ${ip}) since`);
    expect(text).toContain(`— Admin/alice associated ${allocationId} with ${web.instanceId}`);
    expect(text).toContain('that exception ended because the group became reachable from the internet');

    const audit = await auditOf(env.tableName, r.violation.violationId);
    expect(audit.find((a) => a.subjectType === 'exception' && a.action === 'expire')).toMatchObject({
      details: { cause: record.eventID, causeBy: ALICE, grantedAt: 'internal', exposure: 'internet' },
    });
  });

  it('changes nothing twice when the same event is delivered again', async () => {
    const groupId = await createWorldGroup(world, 'regrade-twice');
    const web = await launchInWorld(world, {
      subnetId: world.publicSubnets[1],
      groupIds: [groupId],
      name: 'web-2',
      publicIp: false,
    });
    const r = await raise(groupId);
    await keep(r);
    const { allocationId } = await associateElasticIp(web.instanceId);
    const record = associateAddressRecord(web.instanceId, allocationId);
    await deliver(record);
    const ex = (await exceptionNow(groupId, r.ruleId))!;
    const reask = (await alertNow(`regrade-${r.violation.violationId}-${ex.version - 1}`))!;
    const before = (await violationNow(reask.violationIds[0]!))!;
    env.slack.reset();

    await deliver(record);

    expect(env.slack.callsTo('chat.postMessage')).toHaveLength(0);
    expect(env.slack.callsTo('chat.update')).toHaveLength(0);
    expect(await exceptionNow(groupId, r.ruleId)).toEqual(ex);
    expect(await violationNow(before.violationId)).toEqual(before);
  });

  it('leaves an exception granted at internet standing', async () => {
    const groupId = await createWorldGroup(world, 'regrade-stands');
    await launchInWorld(world, {
      subnetId: world.publicSubnets[0],
      groupIds: [groupId],
      name: 'edge-1',
      publicIp: true,
    });
    const r = await raise(groupId);
    expect(r.violation).toMatchObject({ severity: 'critical', exposure: { exposure: 'internet' } });
    await keep(r);
    const kept = (await exceptionNow(groupId, r.ruleId))!;
    expect(kept.grantedAt).toMatchObject({ exposure: 'internet' });
    const second = await launchInWorld(world, {
      subnetId: world.publicSubnets[1],
      groupIds: [groupId],
      name: 'edge-2',
      publicIp: false,
    });
    const { allocationId } = await associateElasticIp(second.instanceId);
    env.slack.reset();

    await deliver(associateAddressRecord(second.instanceId, allocationId));

    expect(await exceptionNow(groupId, r.ruleId)).toEqual(kept);
    expect(env.slack.callsTo('chat.postMessage')).toHaveLength(0);
  });
});

describe('#20 a Keep that runs out', () => {
  it('asks again at the severity the group’s exposure gives now, and records it', async () => {
    const groupId = await createWorldGroup(world, 'regrade-expiry');
    const r = await raise(groupId);
    expect(r.violation).toMatchObject({ severity: 'medium', exposure: { exposure: 'unattached' } });
    await keep(r);
    // Attached to a public instance meanwhile, and no event told sg-warden.
    const web = await launchInWorld(world, {
      subnetId: world.publicSubnets[0],
      groupIds: [groupId],
      name: 'web-6',
      publicIp: true,
    });
    const realClock = wiring.clock;
    wiring.clock = () => new Date(Date.now() + 25 * 3600_000);
    try {
      await sweeper();
    } finally {
      wiring.clock = realClock;
    }

    const ex = (await exceptionNow(groupId, r.ruleId))!;
    expect(ex.status).toBe('EXPIRED');
    const reopened = (await alertNow(`reopen-${r.violation.violationId}-${ex.version - 1}`))!;
    expect(await violationNow(reopened.violationIds[0]!)).toMatchObject({
      status: 'PENDING',
      severity: 'critical',
      exposure: {
        exposure: 'internet',
        from: 'high',
        change: 'raised',
        reason: `reachable from the internet through ${web.instanceId} (web-6, ${web.publicIp})`,
      },
    });
  });
});

describe('#20 a pending violation whose group moved', () => {
  it('raises an unattached group’s lowered rule to critical when an interface of a public instance is put in it', async () => {
    const groupId = await createWorldGroup(world, 'regrade-lowered');
    const other = await createWorldGroup(world, 'regrade-other');
    const r = await raise(groupId);
    expect(r.violation).toMatchObject({ severity: 'medium', exposure: { exposure: 'unattached' } });
    expect(Date.parse(r.violation.deadline!) - Date.parse(r.violation.createdAt)).toBe(60 * 60_000);
    const web = await launchInWorld(world, {
      subnetId: world.publicSubnets[0],
      groupIds: [other],
      name: 'web-3',
      publicIp: true,
    });
    await ec2().send(
      new ModifyNetworkInterfaceAttributeCommand({
        NetworkInterfaceId: web.networkInterfaceId,
        Groups: [other, groupId],
      }),
    );
    env.slack.reset();
    const startedAt = Date.now();

    await deliver(
      exposureChangeRecord({
        eventName: 'ModifyNetworkInterfaceAttribute',
        region: REGION,
        principalArn: ALICE,
        requestParameters: {
          networkInterfaceId: web.networkInterfaceId,
          groupSet: { items: [{ groupId: other }, { groupId }] },
        },
      }),
    );

    const v = (await violationNow(r.violation.violationId))!;
    expect(v).toMatchObject({
      status: 'PENDING',
      severity: 'critical',
      exposure: { exposure: 'internet', from: 'high', change: 'raised' },
      exposureChange: { direction: 'rose', from: 'unattached', to: 'internet', by: 'Admin/alice' },
    });
    // The critical deadline, from now: never later than the one it had.
    const deadline = Date.parse(v.deadline!);
    expect(deadline).toBeGreaterThanOrEqual(startedAt + 5 * 60_000 - 1000);
    expect(deadline).toBeLessThanOrEqual(Date.now() + 5 * 60_000);
    expect(v.dueAt).toBe(v.deadline);
    // The message says so.
    const update = env.slack.callsTo('chat.update').find((c) => c.args.ts === r.alert.ts)!;
    expect(textOf(update.args)).toContain(
      `now reachable from the internet through ${web.instanceId} (web-3, ${web.publicIp}) since`,
    );
    expect(textOf(update.args)).toContain(
      `— Admin/alice put ${web.networkInterfaceId} in ${other}, ${groupId}`,
    );
    expect(env.slack.callsTo('chat.postMessage')).toHaveLength(0);
  });

  it('re-grades the groups of a private subnet that gets a route to an internet gateway', async () => {
    const groupId = await createWorldGroup(world, 'regrade-route');
    const subnetId = world.privateSubnets[1];
    // A public address, but its subnet has no route to an internet gateway: internal.
    const db = await launchInWorld(world, { subnetId, groupIds: [groupId], name: 'db-1', publicIp: true });
    const r = await raise(groupId);
    expect(r.violation).toMatchObject({ severity: 'high', exposure: { exposure: 'internal' } });
    const table = (await ec2().send(new CreateRouteTableCommand({ VpcId: world.vpcId }))).RouteTable!
      .RouteTableId!;
    await ec2().send(new AssociateRouteTableCommand({ RouteTableId: table, SubnetId: subnetId }));
    await ec2().send(
      new CreateRouteCommand({
        RouteTableId: table,
        DestinationCidrBlock: '0.0.0.0/0',
        GatewayId: world.internetGatewayId,
      }),
    );

    await deliver(
      exposureChangeRecord({
        eventName: 'CreateRoute',
        region: REGION,
        principalArn: ALICE,
        requestParameters: {
          routeTableId: table,
          destinationCidrBlock: '0.0.0.0/0',
          gatewayId: world.internetGatewayId,
        },
      }),
    );

    expect(await violationNow(r.violation.violationId)).toMatchObject({
      severity: 'critical',
      exposure: { exposure: 'internet' },
      exposureChange: {
        from: 'internal',
        to: 'internet',
        what: `routed 0.0.0.0/0 in ${table} to ${world.internetGatewayId}`,
        reason: expect.stringContaining(`${db.instanceId} (db-1, ${db.publicIp})`),
      },
    });
  });
});

describe('#20 a violating rule with no open record', () => {
  it('is raised now, through the same flow, when its group becomes reachable from the internet', async () => {
    const groupId = await createWorldGroup(world, 'regrade-unrecorded');
    const other = await createWorldGroup(world, 'regrade-unrecorded-other');
    // A rule nobody told sg-warden about (its event was missed): no violation, no exception.
    const [ruleId] = await authorize(REGION, groupId, SSH_TO_WORLD);
    const web = await launchInWorld(world, {
      subnetId: world.publicSubnets[0],
      groupIds: [other],
      name: 'web-5',
      publicIp: true,
    });
    await ec2().send(
      new ModifyNetworkInterfaceAttributeCommand({
        NetworkInterfaceId: web.networkInterfaceId,
        Groups: [groupId],
      }),
    );
    const record = exposureChangeRecord({
      eventName: 'ModifyNetworkInterfaceAttribute',
      region: REGION,
      principalArn: ALICE,
      requestParameters: { networkInterfaceId: web.networkInterfaceId, groupSet: { items: [{ groupId }] } },
    });

    await deliver(record);
    await deliver(record);

    const alert = (await alertNow(`regrade-${ACCOUNT}-${REGION}-${groupId}-0`))!;
    expect(alert).toMatchObject({
      status: 'POSTED',
      eventName: 'ModifyNetworkInterfaceAttribute',
      actor: { arn: ALICE },
    });
    expect(await violationNow(alert.violationIds[0]!)).toMatchObject({
      status: 'PENDING',
      severity: 'critical',
      rule: { ruleId },
      exposureChange: { from: null, to: 'internet', by: 'Admin/alice' },
    });
    // Posted once, though the event came twice.
    expect(env.slack.callsTo('chat.postMessage')).toHaveLength(1);
  });
});

describe('#20 what is read, and what is not', () => {
  it('ignores a failed call: nothing is read and nothing changes', async () => {
    const groupId = await createWorldGroup(world, 'regrade-failed');
    const web = await launchInWorld(world, {
      subnetId: world.publicSubnets[0],
      groupIds: [groupId],
      name: 'web-4',
      publicIp: false,
    });
    const r = await raise(groupId);
    await associateElasticIp(web.instanceId);
    proxy.reset();
    env.slack.reset();

    await deliver(
      exposureChangeRecord({
        eventName: 'AssociateAddress',
        region: REGION,
        principalArn: ALICE,
        requestParameters: { allocationId: 'eipalloc-0a1b2c3d4e5f60718', instanceId: web.instanceId },
        errorCode: 'InvalidAllocationID.NotFound',
      }),
    );

    expect(proxy.calls.filter((c) => c.service !== 'dynamodb' && c.action !== 'GetParameter')).toEqual([]);
    expect(await violationNow(r.violation.violationId)).toEqual(r.violation);
    expect(env.slack.calls).toHaveLength(0);
  });

  it('costs the lookups of 3 groups for RunInstances of 50 instances in 3 groups', async () => {
    const groups = [
      await createWorldGroup(world, 'fleet-a'),
      await createWorldGroup(world, 'fleet-b'),
      await createWorldGroup(world, 'fleet-c'),
    ];
    const out = await ec2().send(
      new RunInstancesCommand({
        ImageId: 'ami-12c6146b',
        InstanceType: 't3.micro',
        MinCount: 50,
        MaxCount: 50,
        SubnetId: world.privateSubnets[0],
        SecurityGroupIds: groups,
      }),
    );
    const instanceIds = out.Instances!.map((i) => i.InstanceId!);
    expect(instanceIds).toHaveLength(50);
    proxy.reset();

    await deliver(
      exposureChangeRecord({
        eventName: 'RunInstances',
        region: REGION,
        principalArn: ALICE,
        requestParameters: {
          instancesSet: { items: [{ imageId: 'ami-12c6146b', minCount: 50, maxCount: 50 }] },
        },
        responseElements: {
          instancesSet: { items: instanceIds.map((instanceId) => ({ instanceId })) },
        },
      }),
    );

    // One read of the 50 instances' interfaces, then at most three reads per group, never one per instance.
    expect(callsOf('DescribeNetworkInterfaces')).toBe(1 + groups.length);
    expect(exposureReads()).toBeLessThanOrEqual(1 + 3 * groups.length);
    const regraded = lines.filter(
      (l) =>
        l.msg ===
        'exposure change touched more groups than policy.exposure.maxGroupsPerEvent; the rest are left to the scan',
    );
    expect(regraded).toHaveLength(0);
  });

  it('re-grades at most policy.exposure.maxGroupsPerEvent groups of one change, and logs the cap', async () => {
    const subnetId = world.publicSubnets[1];
    const groups: string[] = [];
    for (const name of ['cap-a', 'cap-b', 'cap-c', 'cap-d', 'cap-e']) {
      const groupId = await createWorldGroup(world, name);
      groups.push(groupId);
      await launchInWorld(world, { subnetId, groupIds: [groupId], name, publicIp: false });
    }
    const record = exposureChangeRecord({
      eventName: 'ModifySubnetAttribute',
      region: REGION,
      principalArn: ALICE,
      requestParameters: { subnetId, mapPublicIpOnLaunch: { value: true } },
    });
    proxy.reset();
    const from = lines.length;

    await deliver(record);

    const capped = lines
      .slice(from)
      .find(
        (l) =>
          l.msg ===
          'exposure change touched more groups than policy.exposure.maxGroupsPerEvent; the rest are left to the scan',
      );
    expect(capped).toMatchObject({
      eventId: record.eventID,
      eventName: 'ModifySubnetAttribute',
      maxGroupsPerEvent: MAX_GROUPS,
      regraded: MAX_GROUPS,
    });
    expect(capped!.found as number).toBeGreaterThan(MAX_GROUPS);
    // The interfaces of the subnet once, then only the groups within the cap.
    expect(callsOf('DescribeNetworkInterfaces')).toBe(1 + MAX_GROUPS);
  });
});
