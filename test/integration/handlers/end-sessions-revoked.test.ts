import {
  CreateSubnetCommand,
  RevokeSecurityGroupEgressCommand,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
  EventBridgeEvent,
} from 'aws-lambda';
import { dueHandlers, type Wiring } from '../../../handlers/wiring';
import { SsmEmulator } from '../../../local/shared/ssm-emulator';
import { sweep } from '../../../services/kernel/sweep';
import type { ViolationItem } from '../../../services/violations/items';
import { authorize, createGroup, documentClient, ec2Client } from '../../support/aws';
import { authorizeIngressRecord, eventBridgeEvent, type RuleSpec } from '../../support/cloudtrail-factory';
import { auditOf } from '../../support/grants';
import { ALERT_CHANNEL, baseConfig, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';
import { blockActionBody, ENGINEER, signedEvent } from '../../support/slack-requests';

/**
 * #22 item 3: a revoked violation's alert says whether live connections were cut (the flow was untracked
 * under AWS's rules, read from the group's rules in EC2 at revoke time) or may persist (tracked); with
 * `policy.endSessionsOnRevoke` the same end-sessions command goes to the group's SSM-managed instances for
 * the rule's source and ports, its count in the alert's thread and the violation's audit trail.
 */

type HttpHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;
type CloudTrailHandler = (event: EventBridgeEvent<string, unknown>) => Promise<unknown>;

const REGION = 'us-east-1';
const DOCUMENT = 'sg-warden-dev-end-sessions';
const context = {} as Context;

let env: HandlerEnv;
let ssm: SsmEmulator;
let slackHttp: HttpHandler;
let cloudtrail: CloudTrailHandler;
let wiring: Wiring;
let subnetOctet = 100;

beforeAll(async () => {
  env = await startHandlerEnv({
    config: baseConfig(`policy:
  timeouts: { critical: 5m, high: 5m, medium: 5m, low: 5m }
  endSessionsOnRevoke: true
decisions:
  revokers: { users: [${ENGINEER.id}] }
`),
  });
  ssm = await new SsmEmulator({ upstream: process.env.MOTO_URL! }).start();
  process.env.AWS_ENDPOINT_URL_SSM = ssm.url;
  process.env.SG_WARDEN_SESSIONS_DOCUMENT = DOCUMENT;
  ssm.registerDocument(DOCUMENT);
  ({ handler: slackHttp } = await import('../../../handlers/slack-http'));
  ({ handler: cloudtrail } = (await import('../../../handlers/cloudtrail-event')) as unknown as {
    handler: CloudTrailHandler;
  });
  wiring = (await import('../../../handlers/wiring')).getWiring();
});

afterAll(async () => {
  delete process.env.AWS_ENDPOINT_URL_SSM;
  delete process.env.SG_WARDEN_SESSIONS_DOCUMENT;
  await ssm.stop();
  await env.stop();
});

beforeEach(() => ssm.reset());

const violation = async (id: string) =>
  (
    await documentClient().send(
      new GetCommand({ TableName: env.tableName, Key: { pk: `VIOLATION#${id}`, sk: 'VIOLATION' } }),
    )
  ).Item as ViolationItem;

interface Raised {
  groupId: string;
  violationId: string;
  ts: string;
  instances: string[];
}

/**
 * A rule on a fresh group (moto gives it AWS's default outbound rule: all traffic to 0.0.0.0/0), with
 * `instances` SSM-managed Linux instances in it, its CloudTrail event delivered: one alert posted.
 */
async function raise(
  rule: RuleSpec & { cidr?: string; cidrV6?: string },
  options: { instances?: number; withoutDefaultEgress?: boolean } = {},
): Promise<Raised> {
  const { groupId, vpcId } = await createGroup(REGION);
  if (options.withoutDefaultEgress)
    await ec2Client(REGION).send(
      new RevokeSecurityGroupEgressCommand({
        GroupId: groupId,
        IpPermissions: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
      }),
    );
  const [ruleId] = await authorize(REGION, groupId, {
    IpProtocol: rule.protocol ?? 'tcp',
    FromPort: rule.fromPort ?? 22,
    ToPort: rule.toPort ?? rule.fromPort ?? 22,
    ...(rule.cidr ? { IpRanges: [{ CidrIp: rule.cidr }] } : {}),
    ...(rule.cidrV6 ? { Ipv6Ranges: [{ CidrIpv6: rule.cidrV6 }] } : {}),
  });
  let instances: string[] = [];
  if (options.instances) {
    const ec2 = ec2Client(REGION);
    const subnet = await ec2.send(
      new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: `10.20.${subnetOctet++}.0/24` }),
    );
    const out = await ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-12c6146b',
        InstanceType: 't3.micro',
        MinCount: options.instances,
        MaxCount: options.instances,
        SubnetId: subnet.Subnet!.SubnetId!,
        SecurityGroupIds: [groupId],
      }),
    );
    instances = (out.Instances ?? []).map((i) => i.InstanceId!);
    for (const id of instances) ssm.setInstance(id, 'online');
  }
  const record = authorizeIngressRecord({ groupId, rules: [{ ...rule, ruleId: ruleId! }] });
  await cloudtrail(eventBridgeEvent(record) as unknown as EventBridgeEvent<string, unknown>);
  const alert = (
    await documentClient().send(
      new GetCommand({ TableName: env.tableName, Key: { pk: `ALERT#${record.eventID}`, sk: 'ALERT' } }),
    )
  ).Item as { violationIds: string[]; ts: string };
  return { groupId, violationId: alert.violationIds[0]!, ts: alert.ts, instances };
}

async function pressRevoke(r: Raised): Promise<void> {
  const body = blockActionBody({
    actionId: 'violation_revoke',
    value: r.violationId,
    user: ENGINEER,
    messageTs: r.ts,
    channel: ALERT_CHANNEL,
    responseUrl: env.slack.responseUrl(),
  });
  await slackHttp(signedEvent(body), context);
  await wiring.drainJobs!();
}

/** The alert message as last updated, text and blocks. */
function alertNow(ts: string): string {
  const call = env.slack
    .callsTo('chat.update')
    .filter((c) => c.args.ts === ts)
    .at(-1);
  return JSON.stringify(call?.args.blocks ?? []);
}

const threadPosts = (ts: string) =>
  env.slack.callsTo('chat.postMessage').filter((c) => c.args.thread_ts === ts);

describe('a revoked violation says what it cut', () => {
  it('cut: a TCP rule open to 0.0.0.0/0 with the default outbound rule (all traffic to 0.0.0.0/0) was untracked; no command is needed', async () => {
    const r = await raise({ cidr: '0.0.0.0/0', fromPort: 22 }, { instances: 1 });

    await pressRevoke(r);

    const v = await violation(r.violationId);
    expect(v).toMatchObject({ status: 'REVOKED', connections: { verdict: 'untracked', untracked: ['tcp'] } });
    expect(alertNow(r.ts)).toContain('Live connections were cut');
    expect(alertNow(r.ts)).toContain('an outbound rule allows all TCP traffic to 0.0.0.0/0');
    expect(ssm.sent).toHaveLength(0);
    expect((await auditOf(env.tableName, r.violationId)).find((e) => e.toState === 'REVOKED')).toMatchObject({
      details: { connections: 'untracked' },
    });
  });

  it('may persist: the same rule without an open outbound rule was tracked; endSessionsOnRevoke ends every connection to the port', async () => {
    const r = await raise({ cidr: '0.0.0.0/0', fromPort: 22 }, { instances: 2, withoutDefaultEgress: true });
    for (const id of r.instances)
      ssm.script(id, [
        { status: 'Success', exitCode: 0, stdout: 'sg-warden-end-sessions ended=2 remaining=0\n' },
      ]);

    await pressRevoke(r);

    expect(await violation(r.violationId)).toMatchObject({
      status: 'REVOKED',
      connections: { verdict: 'tracked' },
    });
    expect(alertNow(r.ts)).toContain('Live connections may persist');
    expect(alertNow(r.ts)).toContain('no outbound rule of the group allows all TCP traffic to 0.0.0.0/0');
    expect(ssm.sent).toHaveLength(1);
    expect(ssm.sent[0]!.input).toMatchObject({
      DocumentName: DOCUMENT,
      Parameters: { address: ['any'], fromPort: ['22'], toPort: ['22'] },
    });
    expect([...ssm.sent[0]!.input.InstanceIds].sort()).toEqual([...r.instances].sort());

    await sweep(wiring, dueHandlers(wiring), new Date(Date.now() + 60_000));

    const [note] = threadPosts(r.ts);
    expect(String(note?.args.text)).toContain('Closed 4 open TCP connections from any address to port 22');
    const entries = await auditOf(env.tableName, r.violationId);
    expect(entries.find((e) => e.action === 'end-sessions')).toMatchObject({
      actorId: ENGINEER.id,
      details: { sent: true, address: 'any', fromPort: 22, toPort: 22 },
    });
    expect(entries.find((e) => e.action === 'sessions-ended')).toMatchObject({
      result: 'ok',
      details: { ended: 4 },
    });
  });

  it('may persist at the deadline: ::/0 inbound with only an IPv4 outbound rule is tracked (the clock revokes, the command goes out)', async () => {
    const r = await raise({ cidrV6: '::/0', fromPort: 3389 }, { instances: 1 });

    await sweep(wiring, dueHandlers(wiring), new Date(Date.now() + 6 * 60_000));

    expect(await violation(r.violationId)).toMatchObject({
      status: 'AUTO_REVOKED',
      connections: { verdict: 'tracked' },
    });
    expect(alertNow(r.ts)).toContain('Live connections may persist');
    expect(ssm.sent).toHaveLength(1);
    expect(ssm.sent[0]!.input.Parameters).toEqual({ address: ['any'], fromPort: ['3389'], toPort: ['3389'] });
    expect(
      (await auditOf(env.tableName, r.violationId)).find((e) => e.action === 'end-sessions'),
    ).toMatchObject({
      actorType: 'timeout',
    });
  });

  it('may persist: a narrower source is always tracked, and its own address is what the command ends', async () => {
    // A public /8 is "open to the internet" for the policy, but not 0.0.0.0/0 for connection tracking.
    const r = await raise({ cidr: '11.0.0.0/8', fromPort: 22 }, { instances: 1 });

    await pressRevoke(r);

    expect(await violation(r.violationId)).toMatchObject({
      status: 'REVOKED',
      connections: { verdict: 'tracked' },
    });
    expect(alertNow(r.ts)).toContain('the rule allowed 11.0.0.0/8, not all of 0.0.0.0/0');
    expect(ssm.sent[0]!.input.Parameters).toEqual({
      address: ['11.0.0.0/8'],
      fromPort: ['22'],
      toPort: ['22'],
    });
  });
});
