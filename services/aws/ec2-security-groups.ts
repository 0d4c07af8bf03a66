import type { EC2Client, IpPermission, SecurityGroupRule } from '@aws-sdk/client-ec2';
import { normaliseProtocol } from '../detection/cloudtrail';
import { AwsCallError } from '../shared/errors';
import type { Direction, RuleFacts } from '../shared/model';
import type {
  AwsTarget,
  GroupInfo,
  IngressGrant,
  PrefixListReader,
  RuleAuthorizer,
  RuleRemover,
  SecurityGroupReader,
} from '../shared/ports';
import { ec2Sdk } from './sdk';
import { callMetadata } from './sdk-errors';

/** Gives the EC2 client for an account and region (created lazily, cached by the provider). */
export type Ec2ClientProvider = (target: AwsTarget) => Promise<EC2Client> | EC2Client;

/** Converts an EC2 SecurityGroupRule to sg-warden's rule facts. */
export function ruleFromEc2(rule: SecurityGroupRule): RuleFacts | null {
  const protocol = normaliseProtocol(rule.IpProtocol);
  const source = rule.CidrIpv4
    ? { source: rule.CidrIpv4, sourceKind: 'ipv4' as const }
    : rule.CidrIpv6
      ? { source: rule.CidrIpv6, sourceKind: 'ipv6' as const }
      : rule.PrefixListId
        ? { source: rule.PrefixListId, sourceKind: 'prefix-list' as const }
        : rule.ReferencedGroupInfo?.GroupId
          ? { source: rule.ReferencedGroupInfo.GroupId, sourceKind: 'security-group' as const }
          : null;
  if (!source || !rule.GroupId) return null;
  const allPorts = protocol === 'all' || rule.FromPort === undefined || rule.FromPort === -1;
  return {
    groupId: rule.GroupId,
    ruleId: rule.SecurityGroupRuleId ?? null,
    direction: rule.IsEgress ? 'egress' : 'ingress',
    protocol,
    fromPort: allPorts ? null : (rule.FromPort ?? null),
    toPort: allPorts || rule.ToPort === -1 ? null : (rule.ToPort ?? null),
    ...source,
    description: rule.Description ?? null,
  };
}

/** Wraps an SDK error in AwsCallError, keeping the service's code, request ID, HTTP status and tries. */
export function awsError(action: string, error: unknown): AwsCallError {
  const e = error as { name?: string; Code?: string; message?: string };
  const awsCode = e.Code ?? e.name ?? 'Unknown';
  return new AwsCallError(`${action} failed: ${awsCode}${e.message ? `: ${e.message}` : ''}`, {
    awsCode,
    ...callMetadata(error),
    cause: error,
  });
}

const NOT_FOUND = new Set([
  'InvalidGroup.NotFound',
  'InvalidSecurityGroupRuleId.NotFound',
  'InvalidGroupId.Malformed',
]);
const PREFIX_LIST_NOT_FOUND = new Set(['InvalidPrefixListID.NotFound', 'InvalidPrefixListId.Malformed']);

/** The EC2 permission for one granted host: one port (tcp/udp), every ICMP type, or all traffic. */
export function grantPermission(grant: IngressGrant): IpPermission {
  const isV6 = grant.cidr.includes(':');
  const range = isV6
    ? { Ipv6Ranges: [{ CidrIpv6: grant.cidr, Description: grant.description }] }
    : { IpRanges: [{ CidrIp: grant.cidr, Description: grant.description }] };
  if (grant.protocol === 'all') return { IpProtocol: '-1', ...range };
  if (grant.protocol === 'icmp' || grant.protocol === 'icmpv6' || grant.port === null)
    return { IpProtocol: grant.protocol, FromPort: -1, ToPort: -1, ...range };
  return { IpProtocol: grant.protocol, FromPort: grant.port, ToPort: grant.port, ...range };
}

function tagList(tags: Record<string, string>): { Key: string; Value: string }[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

/** Security-group reads, rule revokes and grants through the EC2 API. */
export class Ec2SecurityGroups implements SecurityGroupReader, RuleRemover, RuleAuthorizer, PrefixListReader {
  private readonly clientFor: Ec2ClientProvider;

  constructor(options: { clientFor: Ec2ClientProvider }) {
    this.clientFor = options.clientFor;
  }

  async describeRules(target: AwsTarget, ruleIds: readonly string[]): Promise<RuleFacts[]> {
    if (ruleIds.length === 0) return [];
    return this.rulesMatching(target, [{ Name: 'security-group-rule-id', Values: [...ruleIds] }]);
  }

  async describeGroupRules(target: AwsTarget, groupId: string): Promise<RuleFacts[]> {
    return this.rulesMatching(target, [{ Name: 'group-id', Values: [groupId] }]);
  }

  async describeGroup(target: AwsTarget, groupId: string): Promise<GroupInfo | null> {
    const client = await this.clientFor(target);
    try {
      const { DescribeSecurityGroupsCommand } = ec2Sdk();
      const out = await client.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }));
      const group = out.SecurityGroups?.[0];
      if (!group) return null;
      return {
        groupId,
        name: group.GroupName ?? null,
        vpcId: group.VpcId ?? null,
        tags: Object.fromEntries((group.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
      };
    } catch (error) {
      const err = awsError('DescribeSecurityGroups', error);
      if (NOT_FOUND.has(err.awsCode)) return null;
      throw err;
    }
  }

  async revokeRules(
    target: AwsTarget,
    groupId: string,
    direction: Direction,
    ruleIds: readonly string[],
  ): Promise<{ requestId: string | null }> {
    const client = await this.clientFor(target);
    const input = { GroupId: groupId, SecurityGroupRuleIds: [...ruleIds] };
    const action = direction === 'ingress' ? 'RevokeSecurityGroupIngress' : 'RevokeSecurityGroupEgress';
    const { RevokeSecurityGroupIngressCommand, RevokeSecurityGroupEgressCommand } = ec2Sdk();
    try {
      const out =
        direction === 'ingress'
          ? await client.send(new RevokeSecurityGroupIngressCommand(input))
          : await client.send(new RevokeSecurityGroupEgressCommand(input));
      return { requestId: out.$metadata.requestId ?? null };
    } catch (error) {
      throw awsError(action, error);
    }
  }

  async authorizeIngress(
    target: AwsTarget,
    grant: IngressGrant,
  ): Promise<{ ruleId: string; requestId: string | null }> {
    const client = await this.clientFor(target);
    const { AuthorizeSecurityGroupIngressCommand } = ec2Sdk();
    try {
      const out = await client.send(
        new AuthorizeSecurityGroupIngressCommand({
          GroupId: grant.groupId,
          IpPermissions: [grantPermission(grant)],
          TagSpecifications: [{ ResourceType: 'security-group-rule', Tags: tagList(grant.tags) }],
        }),
      );
      const ruleId = out.SecurityGroupRules?.[0]?.SecurityGroupRuleId;
      if (!ruleId) {
        throw new AwsCallError('AuthorizeSecurityGroupIngress answered without a rule ID', {
          awsCode: 'NoRuleId',
          ...(out.$metadata.requestId ? { requestId: out.$metadata.requestId } : {}),
        });
      }
      return { ruleId, requestId: out.$metadata.requestId ?? null };
    } catch (error) {
      if (error instanceof AwsCallError) throw error;
      throw awsError('AuthorizeSecurityGroupIngress', error);
    }
  }

  async prefixListEntries(target: AwsTarget, prefixListId: string): Promise<string[]> {
    const client = await this.clientFor(target);
    const { GetManagedPrefixListEntriesCommand } = ec2Sdk();
    const cidrs: string[] = [];
    let nextToken: string | undefined;
    try {
      do {
        const out = await client.send(
          new GetManagedPrefixListEntriesCommand({ PrefixListId: prefixListId, NextToken: nextToken }),
        );
        for (const entry of out.Entries ?? []) if (entry.Cidr) cidrs.push(entry.Cidr);
        nextToken = out.NextToken;
      } while (nextToken);
    } catch (error) {
      const err = awsError('GetManagedPrefixListEntries', error);
      if (PREFIX_LIST_NOT_FOUND.has(err.awsCode)) return [];
      throw err;
    }
    return cidrs;
  }

  async groupsUsingPrefixList(target: AwsTarget, prefixListId: string): Promise<string[]> {
    const client = await this.clientFor(target);
    const { GetManagedPrefixListAssociationsCommand } = ec2Sdk();
    const groups = new Set<string>();
    let nextToken: string | undefined;
    try {
      do {
        const out = await client.send(
          new GetManagedPrefixListAssociationsCommand({
            PrefixListId: prefixListId,
            NextToken: nextToken,
            MaxResults: 255,
          }),
        );
        // Route tables use lists too; only security groups have rules to judge.
        for (const a of out.PrefixListAssociations ?? [])
          if (a.ResourceId?.startsWith('sg-')) groups.add(a.ResourceId);
        nextToken = out.NextToken;
      } while (nextToken);
    } catch (error) {
      const err = awsError('GetManagedPrefixListAssociations', error);
      if (PREFIX_LIST_NOT_FOUND.has(err.awsCode)) return [];
      throw err;
    }
    return [...groups].sort();
  }

  async describeRulesTagged(target: AwsTarget, key: string, value: string): Promise<RuleFacts[]> {
    return this.rulesMatching(target, [{ Name: `tag:${key}`, Values: [value] }]);
  }

  async relabelRule(
    target: AwsTarget,
    groupId: string,
    ruleId: string,
    description: string,
    tags: Record<string, string>,
  ): Promise<void> {
    const client = await this.clientFor(target);
    const { CreateTagsCommand, UpdateSecurityGroupRuleDescriptionsIngressCommand } = ec2Sdk();
    try {
      await client.send(new CreateTagsCommand({ Resources: [ruleId], Tags: tagList(tags) }));
    } catch (error) {
      throw awsError('CreateTags', error);
    }
    try {
      await client.send(
        new UpdateSecurityGroupRuleDescriptionsIngressCommand({
          GroupId: groupId,
          SecurityGroupRuleDescriptions: [{ SecurityGroupRuleId: ruleId, Description: description }],
        }),
      );
    } catch (error) {
      throw awsError('UpdateSecurityGroupRuleDescriptionsIngress', error);
    }
  }

  private async rulesMatching(
    target: AwsTarget,
    filters: { Name: string; Values: string[] }[],
  ): Promise<RuleFacts[]> {
    const client = await this.clientFor(target);
    const { DescribeSecurityGroupRulesCommand } = ec2Sdk();
    const rules: RuleFacts[] = [];
    let nextToken: string | undefined;
    try {
      do {
        const out = await client.send(
          new DescribeSecurityGroupRulesCommand({ Filters: filters, NextToken: nextToken, MaxResults: 1000 }),
        );
        for (const r of out.SecurityGroupRules ?? []) {
          const facts = ruleFromEc2(r);
          if (facts) rules.push(facts);
        }
        nextToken = out.NextToken;
      } while (nextToken);
    } catch (error) {
      const err = awsError('DescribeSecurityGroupRules', error);
      if (NOT_FOUND.has(err.awsCode)) return [];
      throw err;
    }
    return rules;
  }
}

/** True when an AWS error means the rule or group is already gone. */
export function isNotFound(error: unknown): boolean {
  return error instanceof AwsCallError && NOT_FOUND.has(error.awsCode);
}
