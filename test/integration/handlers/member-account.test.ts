import { CreateSecurityGroupCommand, EC2Client } from '@aws-sdk/client-ec2';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { uniqueName } from '../../support/aws';
import { baseConfig, type HandlerEnv, startHandlerEnv } from '../../support/handler-env';

/**
 * Acting in the event's account: with accounts.roleName set, the wiring's EC2 client for another account
 * assumes `arn:aws:iam::<account>:role/<roleName>` through STS (moto's AssumeRole hands out credentials
 * of that account), while the bot's own account keeps the function's own credentials.
 */
const OWN = '123456789012'; // moto's default account
const MEMBER = '210987654321';
const REGION = 'eu-west-1';

let env: HandlerEnv;

async function createGroupInMember(): Promise<string> {
  const endpoint = process.env.MOTO_URL!;
  const sts = new STSClient({ region: REGION, endpoint });
  const out = await sts.send(
    new AssumeRoleCommand({
      RoleArn: `arn:aws:iam::${MEMBER}:role/sg-warden-member`,
      RoleSessionName: 'test',
    }),
  );
  const c = out.Credentials!;
  const ec2 = new EC2Client({
    region: REGION,
    endpoint,
    credentials: {
      accessKeyId: c.AccessKeyId!,
      secretAccessKey: c.SecretAccessKey!,
      sessionToken: c.SessionToken!,
    },
  });
  const group = await ec2.send(
    new CreateSecurityGroupCommand({ GroupName: uniqueName('member'), Description: 'member account group' }),
  );
  return group.GroupId!;
}

beforeAll(async () => {
  env = await startHandlerEnv({ config: baseConfig('accounts:\n  roleName: sg-warden-member\n') });
  process.env.SG_WARDEN_ACCOUNT_ID = OWN;
});

afterAll(async () => {
  delete process.env.SG_WARDEN_ACCOUNT_ID;
  await env.stop();
});

describe('wiring: EC2 in the event’s account', () => {
  it('reads a member account’s group through the assumed role, and not with the bot’s own credentials', async () => {
    const groupId = await createGroupInMember();
    const { buildWiring } = await import('../../../handlers/wiring');
    const wiring = buildWiring();

    const inMember = await wiring.ec2.describeGroup({ account: MEMBER, region: REGION }, groupId);
    expect(inMember).toMatchObject({ groupId });
    // The bot's own account (by ID or as `self`) does not have that group.
    expect(await wiring.ec2.describeGroup({ account: OWN, region: REGION }, groupId)).toBeNull();
    expect(await wiring.ec2.describeGroup({ account: 'self', region: REGION }, groupId)).toBeNull();
  });

  // #12.3: this test once asserted that, with no member role, the bot read another account with its
  // own credentials (and so found nothing there). It now refuses to: another account is reached only
  // through its role, and the bot's own account still answers with its own credentials.
  it('#12.3 refuses to act in another account when no member role is configured, and says why', async () => {
    const groupId = await createGroupInMember();
    env.writeConfig(baseConfig());
    const { buildWiring } = await import('../../../handlers/wiring');
    const wiring = buildWiring();
    await expect(wiring.ec2.describeGroup({ account: MEMBER, region: REGION }, groupId)).rejects.toThrow(
      `sg-warden cannot act in account ${MEMBER}: accounts.roleName is not set`,
    );
    expect(await wiring.ec2.describeGroup({ account: OWN, region: REGION }, groupId)).toBeNull();
    env.writeConfig(baseConfig('accounts:\n  roleName: sg-warden-member\n'));
  });
});
