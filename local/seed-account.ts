import { randomBytes } from 'node:crypto';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateNetworkInterfaceCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  EC2Client,
  type IpPermission,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { GetParametersCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { TABLE_DEFINITION } from '../services/aws/dynamodb-store';
import { credentialsOf } from './aws-personas';

export const REGION = 'us-east-1';
/** moto's account. */
export const ACCOUNT = '123456789012';
export const TABLE_NAME = 'sg-warden-sandbox';
export const BOT_TOKEN_PARAM = '/sg-warden/slack-bot-token';
export const SIGNING_SECRET_PARAM = '/sg-warden/slack-signing-secret';
/** Tag that marks what the sandbox seeded, with the role as its value. */
export const ROLE_TAG = 'sg-warden-sandbox:role';

export type GroupRole = 'web' | 'app' | 'bastion' | 'db';
/** Groups that belong to a team (tag `team`), routed to its channel (sandbox-config.ts TEAM_CHANNELS). */
export type TeamGroupRole = 'payments' | 'platform';

type SeededGroup = { groupId: string; name: string; description: string };

/** The emulated account as the sandbox seeded it. */
export interface World {
  region: string;
  account: string;
  vpcId: string;
  /** The team groups came later: a state folder from before them has none until the next start adds them. */
  groups: Record<GroupRole, SeededGroup> & Partial<Record<TeamGroupRole, SeededGroup>>;
  instances: { instanceId: string; name: string; tags: Record<string, string> }[];
}

// The account's set-up and the page's reads are the sandbox's admin (an IAM user with a long-term key).
const credentials = credentialsOf('admin');

export function clients(endpoint: string) {
  return {
    ec2: new EC2Client({ region: REGION, endpoint, credentials }),
    ssm: new SSMClient({ region: REGION, endpoint, credentials }),
    dynamodb: new DynamoDBClient({ region: REGION, endpoint, credentials }),
  };
}

const GROUPS: { role: GroupRole; name: string; description: string }[] = [
  { role: 'web', name: 'web-public', description: 'Public web tier: HTTPS from anywhere' },
  { role: 'app', name: 'app-private', description: 'Application servers: 8080 from the web tier' },
  { role: 'bastion', name: 'bastion-ssh', description: 'SSH bastion: office range only' },
  { role: 'db', name: 'db-postgres', description: 'PostgreSQL: 5432 from the app tier' },
];

const TEAM_GROUPS: { role: TeamGroupRole; name: string; description: string }[] = [
  { role: 'payments', name: 'payments-api', description: 'Payments API (team payments): HTTPS only' },
  { role: 'platform', name: 'platform-ingress', description: 'Platform ingress (team platform): HTTPS only' },
];

/**
 * The teams' groups, tagged `team=<team>` so that slack.routes sends their alerts to the team's channel;
 * made at the first start, and at a later start of a state folder from before them.
 */
export async function seedTeamGroups(
  endpoint: string,
  vpcId: string,
  existing: World['groups'],
): Promise<void> {
  const { ec2 } = clients(endpoint);
  const subnets = await ec2.send(
    new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }),
  );
  const subnetId = subnets.Subnets?.[0]?.SubnetId;
  for (const group of TEAM_GROUPS) {
    if (existing[group.role]) continue;
    const made = await ec2.send(
      new CreateSecurityGroupCommand({
        GroupName: group.name,
        Description: group.description,
        VpcId: vpcId,
        TagSpecifications: [
          {
            ResourceType: 'security-group',
            Tags: [
              { Key: 'Name', Value: group.name },
              { Key: 'team', Value: group.role },
              { Key: ROLE_TAG, Value: group.role },
            ],
          },
        ],
      }),
    );
    // The team's service runs in the private subnet (a container task's interface), so its group is
    // `internal` like the others, not `unattached`: exposure keeps the severity its rules have.
    if (subnetId && made.GroupId)
      await ec2.send(
        new CreateNetworkInterfaceCommand({
          SubnetId: subnetId,
          Groups: [made.GroupId],
          Description: `arn:aws:ecs:us-east-1:000000000000:attachment/${group.role}-api`,
        }),
      );
  }
}

/**
 * Seeds a fresh emulated account: the sg-warden table, the Slack secrets in Parameter Store, a VPC,
 * four security groups with the rules a small production VPC has, two tagged web instances, and the
 * database's network interface (so the groups are attached, as in a real account: exposure grades by it).
 */
export async function seedAccount(endpoint: string): Promise<{ botToken: string; signingSecret: string }> {
  const { ec2, ssm, dynamodb } = clients(endpoint);
  await dynamodb.send(new CreateTableCommand({ TableName: TABLE_NAME, ...TABLE_DEFINITION } as never));
  // Fresh per sandbox: nothing secret is in the repo, and the page signs with what Parameter Store holds.
  const botToken = `xoxb-sandbox-${randomBytes(12).toString('hex')}`;
  const signingSecret = randomBytes(16).toString('hex');
  for (const [name, value] of [
    [BOT_TOKEN_PARAM, botToken],
    [SIGNING_SECRET_PARAM, signingSecret],
  ] as const) {
    await ssm.send(
      new PutParameterCommand({ Name: name, Value: value, Type: 'SecureString', Overwrite: true }),
    );
  }

  const vpc = await ec2.send(
    new CreateVpcCommand({
      CidrBlock: '10.40.0.0/16',
      TagSpecifications: [{ ResourceType: 'vpc', Tags: [{ Key: 'Name', Value: 'sandbox-prod' }] }],
    }),
  );
  const vpcId = vpc.Vpc!.VpcId!;
  const subnet = await ec2.send(
    new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.40.1.0/24', AvailabilityZone: `${REGION}a` }),
  );
  await seedTeamGroups(endpoint, vpcId, {} as World['groups']);
  const ids = {} as Record<GroupRole, string>;
  for (const group of GROUPS) {
    const out = await ec2.send(
      new CreateSecurityGroupCommand({
        GroupName: group.name,
        Description: group.description,
        VpcId: vpcId,
        TagSpecifications: [
          {
            ResourceType: 'security-group',
            Tags: [
              { Key: 'Name', Value: group.name },
              { Key: ROLE_TAG, Value: group.role },
            ],
          },
        ],
      }),
    );
    ids[group.role] = out.GroupId!;
  }
  const rules: [GroupRole, IpPermission][] = [
    [
      'web',
      {
        IpProtocol: 'tcp',
        FromPort: 443,
        ToPort: 443,
        IpRanges: [{ CidrIp: '0.0.0.0/0', Description: 'HTTPS' }],
      },
    ],
    [
      'web',
      {
        IpProtocol: 'tcp',
        FromPort: 443,
        ToPort: 443,
        Ipv6Ranges: [{ CidrIpv6: '::/0', Description: 'HTTPS' }],
      },
    ],
    ['app', { IpProtocol: 'tcp', FromPort: 8080, ToPort: 8080, UserIdGroupPairs: [{ GroupId: ids.web }] }],
    [
      'bastion',
      {
        IpProtocol: 'tcp',
        FromPort: 22,
        ToPort: 22,
        IpRanges: [{ CidrIp: '203.0.113.0/24', Description: 'office' }],
      },
    ],
    ['db', { IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, UserIdGroupPairs: [{ GroupId: ids.app }] }],
  ];
  // One permission per call: moto reports only the last permission's rule IDs otherwise.
  for (const [role, permission] of rules) {
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({ GroupId: ids[role], IpPermissions: [permission] }),
    );
  }
  for (const name of ['web-1', 'web-2']) {
    await ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-12c6146b',
        InstanceType: 't3.micro',
        MinCount: 1,
        MaxCount: 1,
        SubnetId: subnet.Subnet!.SubnetId!,
        SecurityGroupIds: [ids.web, ids.app],
        TagSpecifications: [
          {
            ResourceType: 'instance',
            Tags: [
              { Key: 'Name', Value: name },
              { Key: 'Role', Value: 'web' },
              { Key: 'Env', Value: 'prod' },
              { Key: ROLE_TAG, Value: 'instance' },
            ],
          },
        ],
      }),
    );
  }
  // The database: a managed PostgreSQL's interface in the private subnet (RDS creates one per instance),
  // so db-postgres is `internal` like web-public and app-private, not `unattached`.
  await ec2.send(
    new CreateNetworkInterfaceCommand({
      SubnetId: subnet.Subnet!.SubnetId!,
      Groups: [ids.db],
      Description: 'RDSNetworkInterface',
    }),
  );
  return { botToken, signingSecret };
}

/** Finds what seedAccount made (after a fresh seed or a replay of the state log). */
export async function discoverWorld(endpoint: string): Promise<World> {
  const { ec2 } = clients(endpoint);
  const groupsOut = await ec2.send(
    new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'tag-key', Values: [ROLE_TAG] }] }),
  );
  const groups = {} as World['groups'];
  let vpcId = '';
  for (const group of groupsOut.SecurityGroups ?? []) {
    const role = group.Tags?.find((t) => t.Key === ROLE_TAG)?.Value as GroupRole | TeamGroupRole | undefined;
    if (!role) continue;
    groups[role] = { groupId: group.GroupId!, name: group.GroupName!, description: group.Description ?? '' };
    vpcId = group.VpcId ?? vpcId;
  }
  const missing = GROUPS.filter((g) => !groups[g.role]).map((g) => g.name);
  if (missing.length > 0) {
    throw new Error(
      `the emulated account has no ${missing.join(', ')} group (start with --reset to seed it again)`,
    );
  }
  const instancesOut = await ec2.send(
    new DescribeInstancesCommand({ Filters: [{ Name: `tag:${ROLE_TAG}`, Values: ['instance'] }] }),
  );
  const instances = (instancesOut.Reservations ?? [])
    .flatMap((r) => r.Instances ?? [])
    .filter((i) => i.State?.Name !== 'terminated')
    .map((i) => {
      const tags = Object.fromEntries((i.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
      return { instanceId: i.InstanceId!, name: tags.Name ?? i.InstanceId!, tags };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
  return { region: REGION, account: ACCOUNT, vpcId, groups, instances };
}

/** The Slack secrets as Parameter Store holds them. */
export async function readSecrets(endpoint: string): Promise<{ botToken: string; signingSecret: string }> {
  const { ssm } = clients(endpoint);
  const out = await ssm.send(
    new GetParametersCommand({ Names: [BOT_TOKEN_PARAM, SIGNING_SECRET_PARAM], WithDecryption: true }),
  );
  const value = (name: string) => out.Parameters?.find((p) => p.Name === name)?.Value;
  const botToken = value(BOT_TOKEN_PARAM);
  const signingSecret = value(SIGNING_SECRET_PARAM);
  if (!botToken || !signingSecret) throw new Error('the Slack secrets are missing from Parameter Store');
  return { botToken, signingSecret };
}
