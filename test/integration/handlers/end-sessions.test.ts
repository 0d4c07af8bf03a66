import { RunInstancesCommand } from '@aws-sdk/client-ec2';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dueHandlers, type Wiring } from '../../../handlers/wiring';
import { SsmEmulator } from '../../../local/shared/ssm-emulator';
import type { GrantItem } from '../../../services/grants/items';
import { sweep } from '../../../services/kernel/sweep';
import { createGroup, documentClient, ec2Client } from '../../support/aws';
import { auditOf, getGrant, grantIdIn, rulesFrom } from '../../support/grants';
import { baseConfig, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';
import { APPROVER, ENGINEER } from '../../support/slack-requests';
import { type HttpHandler, slash } from '../../support/slash';

/**
 * #22 item 2: sessions that end with the grant. A target with `endSessions: true` gets one end-sessions
 * command (the stack's own document, the grant's address and port as its parameters) right after the
 * grant's rule goes, on the SSM-managed instances behind its group; the owner is told the count. A
 * target without it says plainly that an open connection stays until idle.
 */

const REGION = 'us-east-1';
const MINUTE = 60_000;
/** The packaged stage is dev: serverless.yml names the document so. */
const DOCUMENT = 'sg-warden-dev-end-sessions';
const count = (ended: number) => `sg-warden-end-sessions ended=${ended} remaining=0\n`;

let env: HandlerEnv;
let ssm: SsmEmulator;
let slackHttp: HttpHandler;
let wiring: Wiring;
let bastion: string;
let plain: string;
let managed: string[];
let unmanaged: string;
let host = 20;

const nextHost = () => `192.0.2.${++host}`;

async function launchIn(groupId: string, vpcId: string, n: number): Promise<string[]> {
  const ec2 = ec2Client(REGION);
  const { CreateSubnetCommand } = await import('@aws-sdk/client-ec2');
  const subnet = await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: `10.20.${host++}.0/24` }));
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
  plain = (await createGroup(REGION)).groupId;
  const [a, c, u] = await launchIn(bastion, b.vpcId, 3);
  managed = [a!, c!];
  unmanaged = u!;
  env = await startHandlerEnv({
    config: baseConfig(`whitelist:
  targets:
    bastion:
      groupId: ${bastion}
      region: ${REGION}
      ports: [22, 2222]
      endSessions: true
      allowed: { users: [${ENGINEER.id}] }
    plain:
      groupId: ${plain}
      region: ${REGION}
      ports: [22]
      allowed: { users: [${ENGINEER.id}] }
decisions:
  approvers: { users: [${APPROVER.id}] }
`),
  });
  ssm = await new SsmEmulator({ upstream: process.env.MOTO_URL! }).start();
  process.env.AWS_ENDPOINT_URL_SSM = ssm.url;
  process.env.SG_WARDEN_SESSIONS_DOCUMENT = DOCUMENT;
  ssm.registerDocument(DOCUMENT);
  for (const id of managed) ssm.setInstance(id, 'online');
  ({ handler: slackHttp } = await import('../../../handlers/slack-http'));
  wiring = (await import('../../../handlers/wiring')).getWiring();
});

afterAll(async () => {
  delete process.env.AWS_ENDPOINT_URL_SSM;
  delete process.env.SG_WARDEN_SESSIONS_DOCUMENT;
  await ssm.stop();
  await env.stop();
});

beforeEach(() => ssm.reset());

function whitelist(text: string, user = ENGINEER) {
  return slash(env, slackHttp, () => wiring.drainJobs!(), '/sg-whitelist', text, user);
}

async function grantFor(text: string): Promise<{ grant: GrantItem; said: string }> {
  const answer = await whitelist(text);
  return { grant: (await getGrant(env.tableName, grantIdIn(answer.said)))!, said: answer.said };
}

const sweepAt = (minutes: number) =>
  sweep(wiring, dueHandlers(wiring), new Date(Date.now() + minutes * MINUTE));

/** Direct messages to the engineer about one grant, as text and blocks. */
function dmsAbout(grantId: string): string[] {
  return env.slack
    .callsTo('chat.postMessage')
    .filter((c) => c.args.channel === ENGINEER.id && JSON.stringify(c.args).includes(grantId))
    .map((c) => `${String(c.args.text)}\n${JSON.stringify(c.args.blocks ?? [])}`);
}

describe('whitelist.targets.<name>.endSessions', () => {
  it('on expiry sends ONE command with the grant’s address and port to the SSM-managed instances behind the target, then tells the owner the count (DM and audit)', async () => {
    const address = nextHost();
    const { grant, said } = await grantFor(`bastion ${address} 2222 for 30m`);
    expect(said).toContain('closes your open TCP connections');
    ssm.script(managed[0]!, [{ status: 'Success', exitCode: 0, stdout: count(2) }]);
    ssm.script(managed[1]!, [{ status: 'InProgress' }, { status: 'Success', exitCode: 0, stdout: count(1) }]);

    await sweepAt(31);

    expect(await rulesFrom(bastion, grant.cidr)).toHaveLength(0);
    expect(ssm.sent).toHaveLength(1);
    const sent = ssm.sent[0]!.input;
    expect(sent.DocumentName).toBe(DOCUMENT);
    expect([...sent.InstanceIds].sort()).toEqual([...managed].sort());
    expect(sent.InstanceIds).not.toContain(unmanaged);
    expect(sent.Parameters).toEqual({ address: [`${address}/32`], fromPort: ['2222'], toPort: ['2222'] });
    expect(ssm.callsTo('DescribeInstanceInformation')).toHaveLength(1);
    const ended = dmsAbout(grant.grantId);
    expect(ended).toHaveLength(1);
    expect(ended[0]).toContain('expired');
    expect(ended[0]).toContain('closing your open TCP connections');
    expect(ended[0]).not.toContain('432,000');
    const sentAudit = (await auditOf(env.tableName, grant.grantId)).find((e) => e.action === 'end-sessions');
    expect(sentAudit).toMatchObject({
      result: 'ok',
      actorType: 'timeout',
      details: {
        sent: true,
        document: DOCUMENT,
        address: `${address}/32`,
        fromPort: 2222,
        toPort: 2222,
        skipped: [{ instanceId: unmanaged, why: 'not managed by SSM' }],
      },
    });

    await sweepAt(31.5);
    expect(dmsAbout(grant.grantId)).toHaveLength(1);
    await sweepAt(33);

    const dms = dmsAbout(grant.grantId);
    expect(dms).toHaveLength(2);
    expect(dms[1]).toContain(`Closed 3 open TCP connections from ${address}/32 to port 2222`);
    expect(dms[1]).toContain(unmanaged);
    const done = (await auditOf(env.tableName, grant.grantId)).find((e) => e.action === 'sessions-ended');
    expect(done).toMatchObject({
      result: 'ok',
      actorId: 'ssm',
      details: {
        ended: 3,
        remaining: 0,
        instances: {
          [managed[0]!]: { status: 'Success', ended: 2 },
          [managed[1]!]: { status: 'Success', ended: 1 },
        },
      },
    });
    await sweepAt(40);
    expect(dmsAbout(grant.grantId)).toHaveLength(2);
    expect(ssm.sent).toHaveLength(1);
  });

  it('on /sg-whitelist revoke sends it at once; the owner gets the count, an instance without one is named', async () => {
    const address = nextHost();
    const { grant } = await grantFor(`bastion ${address} for 1h`);
    ssm.script(managed[0]!, [{ status: 'Success', exitCode: 0, stdout: count(1) }]);
    ssm.script(managed[1]!, [
      { status: 'Failed', exitCode: 4, stdout: 'sg-warden-end-sessions error=ss-failed\n' },
    ]);

    const answer = await whitelist(`revoke ${grant.grantId}`, APPROVER);

    expect(answer.said).toContain('Revoked');
    expect(ssm.sent).toHaveLength(1);
    expect(ssm.sent[0]!.input.Parameters).toEqual({
      address: [`${address}/32`],
      fromPort: ['22'],
      toPort: ['22'],
    });
    expect(
      (await auditOf(env.tableName, grant.grantId)).find((e) => e.action === 'end-sessions'),
    ).toMatchObject({
      actorId: APPROVER.id,
      result: 'ok',
    });
    await sweepAt(1);
    const dms = dmsAbout(grant.grantId);
    expect(dms.at(-1)).toContain(`Closed 1 open TCP connection from ${address}/32 to port 22`);
    expect(dms.at(-1)).toContain('1 instance gave no count');
    expect(dms.at(-1)).toContain('ss -K failed on the instance');
    expect(
      (await auditOf(env.tableName, grant.grantId)).find((e) => e.action === 'sessions-ended'),
    ).toMatchObject({
      result: 'error',
      details: { ended: 1 },
    });
  });

  it('refuses an address that is not one (a tampered grant): nothing is sent, the refusal is audited and the owner told', async () => {
    const { grant } = await grantFor(`bastion ${nextHost()} for 30m`);
    await documentClient().send(
      new UpdateCommand({
        TableName: env.tableName,
        Key: { pk: `GRANT#${grant.grantId}`, sk: 'GRANT' },
        UpdateExpression: 'SET cidr = :c',
        ExpressionAttributeValues: { ':c': "192.0.2.9/32'; reboot; '" },
      }),
    );

    await sweepAt(31);

    expect((await getGrant(env.tableName, grant.grantId))!.status).toBe('EXPIRED');
    expect(ssm.sent).toHaveLength(0);
    expect(ssm.calls).toHaveLength(0);
    expect(
      (await auditOf(env.tableName, grant.grantId)).find((e) => e.action === 'end-sessions'),
    ).toMatchObject({
      result: 'refused',
      error: expect.stringContaining('is not an IPv4 or IPv6 CIDR'),
      details: { sent: false },
    });
    const [dm] = dmsAbout(grant.grantId);
    expect(dm).toContain('could not be closed');
    expect(dm).toContain('5 days (432,000 s)');
  });

  it('says it when no instance behind the target can take the command, and sends nothing', async () => {
    ssm.setInstance(managed[0]!, 'connection-lost');
    ssm.setInstance(managed[1]!, 'online', 'Windows');
    try {
      const { grant } = await grantFor(`bastion ${nextHost()} for 30m`);
      await sweepAt(31);
      expect(ssm.sent).toHaveLength(0);
      const entry = (await auditOf(env.tableName, grant.grantId)).find((e) => e.action === 'end-sessions');
      expect(entry).toMatchObject({
        result: 'error',
        error: `none of the 3 running instances with ${bastion} is an online SSM-managed Linux host`,
      });
      expect(dmsAbout(grant.grantId)[0]).toContain('stays until it has been idle');
    } finally {
      for (const id of managed) ssm.setInstance(id, 'online');
    }
  });
});

describe('where sessions are not ended', () => {
  it('the confirmation and the expiry DM say an open connection stays until idle, and for how long', async () => {
    const { grant, said } = await grantFor(`plain ${nextHost()} for 30m`);
    expect(said).toContain(
      'An open connection is not cut when the rule is removed: it stays until it has been idle for AWS’s connection-tracking timeout — for TCP, 5 days (432,000 s) by default on most instance types.',
    );

    await sweepAt(31);

    expect(ssm.calls).toHaveLength(0);
    const [dm] = dmsAbout(grant.grantId);
    expect(dm).toContain('expired');
    expect(dm).toContain('stays until it has been idle');
    expect(dm).toContain('5 days (432,000 s)');
    expect((await auditOf(env.tableName, grant.grantId)).some((e) => e.action === 'end-sessions')).toBe(
      false,
    );
  });
});
