import { CreateSecurityGroupCommand, EC2Client } from '@aws-sdk/client-ec2';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { EventBridgeEvent } from 'aws-lambda';
import type { Wiring } from '../../../handlers/wiring';
import { scheduleName } from '../../../services/backstop/plan';
import { motoUrl, uniqueName } from '../../support/aws';
import { createScheduleGroup, fireDue, schedulesIn } from '../../support/backstop-harness';
import { getGrant, grantIdIn } from '../../support/grants';
import { baseConfig, type HandlerEnv, MOTO_ACCOUNT, startHandlerEnv } from '../../support/handler-env';
import { ENGINEER } from '../../support/slack-requests';
import { type HttpHandler, slash } from '../../support/slash';

/**
 * A member account's grant: its backstop lives in the member account and region (a schedule runs its
 * target in its own account), made through the member role, run by the member account's execution role
 * (`<accounts.roleName>-backstop`, infra/member-account-role.yml), with that account's dead-letter queue.
 */
const MEMBER = '210987654321';
const REGION = 'eu-west-1';
const GROUP = `sg-warden-member-backstop-${Date.now().toString(36)}`;
const STAGE = 'mb';
const IN_MEMBER = { account: MEMBER, region: REGION };

let env: HandlerEnv;
let slackHttp: HttpHandler;
let cloudtrail: (event: EventBridgeEvent<string, unknown>) => Promise<unknown>;
let wiring: Wiring;
let groupId: string;

async function memberEc2(): Promise<EC2Client> {
  const sts = new STSClient({ region: REGION, endpoint: motoUrl() });
  const out = await sts.send(
    new AssumeRoleCommand({
      RoleArn: `arn:aws:iam::${MEMBER}:role/sg-warden-member`,
      RoleSessionName: 'test',
    }),
  );
  const c = out.Credentials!;
  return new EC2Client({
    region: REGION,
    endpoint: motoUrl(),
    credentials: {
      accessKeyId: c.AccessKeyId!,
      secretAccessKey: c.SecretAccessKey!,
      sessionToken: c.SessionToken!,
    },
  });
}

beforeAll(async () => {
  const ec2 = await memberEc2();
  groupId = (
    await ec2.send(
      new CreateSecurityGroupCommand({
        GroupName: uniqueName('member-bastion'),
        Description: 'bastion',
        // The member role grants only on groups tagged as whitelist targets.
        TagSpecifications: [
          { ResourceType: 'security-group', Tags: [{ Key: 'sg-warden:whitelist-target', Value: 'bastion' }] },
        ],
      }),
    )
  ).GroupId!;
  env = await startHandlerEnv({
    config: baseConfig(`accounts:
  roleName: sg-warden-member
  watched: ["${MEMBER}"]
whitelist:
  targets:
    member-bastion:
      groupId: ${groupId}
      account: "${MEMBER}"
      region: ${REGION}
      ports: [22]
      allowed: { users: [${ENGINEER.id}] }
`),
  });
  Object.assign(process.env, {
    SG_WARDEN_BACKSTOP_GROUP: GROUP,
    SG_WARDEN_BACKSTOP_ROLE_ARN: `arn:aws:iam::${MOTO_ACCOUNT}:role/sg-warden-mb-backstop`,
    SG_WARDEN_STAGE: STAGE,
  });
  await createScheduleGroup(IN_MEMBER, GROUP);
  ({ handler: slackHttp } = await import('../../../handlers/slack-http'));
  cloudtrail = (await import('../../../handlers/cloudtrail-event')).handler as never;
  wiring = (await import('../../../handlers/wiring')).getWiring();
});

afterAll(() => env.stop());

describe('the backstop of a member account grant', () => {
  it('is created in the member account, runs as its execution role there, and closes the rule', async () => {
    const answer = await slash(
      env,
      slackHttp,
      () => wiring.drainJobs!(),
      '/sg-whitelist',
      'member-bastion 192.0.2.77 for 30m',
      ENGINEER,
    );
    const grant = (await getGrant(env.tableName, grantIdIn(answer.said)))!;
    expect(grant).toMatchObject({ status: 'ACTIVE', account: MEMBER });

    const [schedule] = (await schedulesIn(IN_MEMBER, GROUP)).filter(
      (s) => s.Name === scheduleName(STAGE, grant.grantId),
    );
    expect(schedule?.Arn).toBe(
      `arn:aws:scheduler:${REGION}:${MEMBER}:schedule/${GROUP}/${scheduleName(STAGE, grant.grantId)}`,
    );
    expect(schedule?.Target).toMatchObject({
      RoleArn: `arn:aws:iam::${MEMBER}:role/sg-warden-member-backstop`,
      DeadLetterConfig: { Arn: `arn:aws:sqs:${REGION}:${MEMBER}:${GROUP}-dlq` },
      Input: JSON.stringify({ GroupId: groupId, SecurityGroupRuleIds: [grant.ruleId] }),
    });
    // Nothing in the bot's own account.
    expect(await schedulesIn({ account: MOTO_ACCOUNT, region: REGION }, GROUP).catch(() => [])).toEqual([]);

    await fireDue(new Date(Date.now() + 33 * 60_000), {
      places: [IN_MEMBER],
      group: GROUP,
      onCloudTrail: (event) => cloudtrail(event as never),
    });

    expect(await wiring.ec2.describeRules({ account: MEMBER, region: REGION }, [grant.ruleId!])).toEqual([]);
    expect(await getGrant(env.tableName, grant.grantId)).toMatchObject({
      status: 'EXPIRED',
      endedBy: 'backstop',
    });
  });

  it('is moved there by Extend and deleted there when the grant is revoked early', async () => {
    const whitelist = (text: string) =>
      slash(env, slackHttp, () => wiring.drainJobs!(), '/sg-whitelist', text, ENGINEER);
    const grant = (await getGrant(
      env.tableName,
      grantIdIn((await whitelist('member-bastion 192.0.2.78 for 30m')).said),
    ))!;
    const name = scheduleName(STAGE, grant.grantId);

    await whitelist(`extend ${grant.grantId} 1h`);
    const extended = (await getGrant(env.tableName, grant.grantId))!;
    const moved = (await schedulesIn(IN_MEMBER, GROUP)).find((s) => s.Name === name);
    expect(moved?.ScheduleExpression).toBe(
      `at(${new Date(Math.ceil((Date.parse(extended.expiresAt) + 120_000) / 1000) * 1000).toISOString().slice(0, 19)})`,
    );

    await whitelist(`revoke ${grant.grantId}`);
    expect(await getGrant(env.tableName, grant.grantId)).toMatchObject({ status: 'REVOKED' });
    expect((await schedulesIn(IN_MEMBER, GROUP)).map((s) => s.Name)).not.toContain(name);
  });
});
