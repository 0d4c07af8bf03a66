import { DescribeSecurityGroupRulesCommand, type SecurityGroupRule } from '@aws-sdk/client-ec2';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { GrantItem } from '../../services/grants/items';
import type { StoredAuditEntry } from '../../services/kernel/audit';
import { documentClient, ec2Client } from './aws';

/** The group's rules as EC2 has them now (with descriptions and tags). */
export async function rulesOf(groupId: string, region = 'us-east-1'): Promise<SecurityGroupRule[]> {
  const out = await ec2Client(region).send(
    new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [groupId] }] }),
  );
  return out.SecurityGroupRules ?? [];
}

/** The group's inbound rules from one CIDR. */
export async function rulesFrom(groupId: string, cidr: string): Promise<SecurityGroupRule[]> {
  return (await rulesOf(groupId)).filter((r) => !r.IsEgress && (r.CidrIpv4 === cidr || r.CidrIpv6 === cidr));
}

export async function getItem<T>(tableName: string, pk: string, sk: string): Promise<T | undefined> {
  const out = await documentClient().send(new GetCommand({ TableName: tableName, Key: { pk, sk } }));
  return out.Item as T | undefined;
}

export function getGrant(tableName: string, grantId: string): Promise<GrantItem | undefined> {
  return getItem<GrantItem>(tableName, `GRANT#${grantId}`, 'GRANT');
}

export async function auditOf(tableName: string, subjectId: string): Promise<StoredAuditEntry[]> {
  const out = await documentClient().send(
    new QueryCommand({
      TableName: tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `AUDIT#${subjectId}` },
    }),
  );
  return (out.Items ?? []) as StoredAuditEntry[];
}

/** The grant ID a reply names (g-…). */
export function grantIdIn(text: string): string {
  const match = /\bg-[a-z0-9]{10}\b/.exec(text);
  if (!match) throw new Error(`no grant ID in: ${text.slice(0, 300)}`);
  return match[0];
}
