import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateVpcCommand,
  DescribeSecurityGroupRulesCommand,
  EC2Client,
  type IpPermission,
} from '@aws-sdk/client-ec2';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TABLE_DEFINITION } from '../../services/aws/dynamodb-store';

/** The moto server's URL, set by the jest global setup. */
export function motoUrl(): string {
  const url = process.env.MOTO_URL;
  if (!url) throw new Error('MOTO_URL is not set: run the tests through jest (global setup starts moto)');
  return url;
}

const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

export function ec2Client(region = 'us-east-1'): EC2Client {
  return new EC2Client({ region, endpoint: motoUrl(), credentials });
}

export function ssmClient(region = 'us-east-1'): SSMClient {
  return new SSMClient({ region, endpoint: motoUrl(), credentials });
}

export function documentClient(region = 'us-east-1'): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient({ region, endpoint: motoUrl(), credentials }), {
    marshallOptions: { removeUndefinedValues: true },
  });
}

/** A short unique suffix so test files sharing one moto server never collide. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** Creates the sg-warden table (same definition as serverless.yml) under a fresh name. */
export async function createTable(name = uniqueName('sg-warden')): Promise<string> {
  const client = new DynamoDBClient({ region: 'us-east-1', endpoint: motoUrl(), credentials });
  await client.send(new CreateTableCommand({ TableName: name, ...TABLE_DEFINITION } as never));
  return name;
}

/** Stores the Slack secrets as SecureString parameters in the emulated Parameter Store. */
export async function putSlackSecrets(
  prefix: string,
  botToken: string,
  signingSecret: string,
): Promise<{ botTokenParam: string; signingSecretParam: string }> {
  const ssm = ssmClient();
  const botTokenParam = `${prefix}/slack-bot-token`;
  const signingSecretParam = `${prefix}/slack-signing-secret`;
  await ssm.send(
    new PutParameterCommand({ Name: botTokenParam, Value: botToken, Type: 'SecureString', Overwrite: true }),
  );
  await ssm.send(
    new PutParameterCommand({
      Name: signingSecretParam,
      Value: signingSecret,
      Type: 'SecureString',
      Overwrite: true,
    }),
  );
  return { botTokenParam, signingSecretParam };
}

/** A fresh VPC and security group in the emulated account. */
export async function createGroup(
  region = 'us-east-1',
  name = uniqueName('sg'),
): Promise<{ vpcId: string; groupId: string; groupName: string }> {
  const ec2 = ec2Client(region);
  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.20.0.0/16' }));
  const vpcId = vpc.Vpc!.VpcId!;
  const group = await ec2.send(
    new CreateSecurityGroupCommand({ GroupName: name, Description: 'test group', VpcId: vpcId }),
  );
  return { vpcId, groupId: group.GroupId!, groupName: name };
}

/** Authorizes one permission and returns the rule IDs EC2 assigned (one call per permission: moto reports only the last). */
export async function authorize(
  region: string,
  groupId: string,
  permission: IpPermission,
): Promise<string[]> {
  const out = await ec2Client(region).send(
    new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [permission] }),
  );
  return (out.SecurityGroupRules ?? []).map((r) => r.SecurityGroupRuleId!);
}

/** The IDs of the group's rules that exist now. */
export async function liveRuleIds(region: string, groupId: string): Promise<string[]> {
  const out = await ec2Client(region).send(
    new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [groupId] }] }),
  );
  return (out.SecurityGroupRules ?? []).map((r) => r.SecurityGroupRuleId!);
}
