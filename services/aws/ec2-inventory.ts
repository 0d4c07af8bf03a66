import type { EC2Client } from '@aws-sdk/client-ec2';
import type { RuleFacts } from '../shared/model';
import type { AwsTarget, GroupInfo, GroupPage, RuleInventory } from '../shared/ports';
import { awsError, type Ec2ClientProvider, ruleFromEc2 } from './ec2-security-groups';
import { ec2Sdk } from './sdk';

/** Groups per DescribeSecurityGroups page (EC2 allows 5–1000). */
export const GROUPS_PER_PAGE = 1000;
/** Rules per DescribeSecurityGroupRules page (EC2's most). */
const RULES_PER_PAGE = 1000;

/**
 * The scan's reads: every group of an account and region (DescribeSecurityGroups, paged, for names and
 * tags) and their rules (DescribeSecurityGroupRules filtered by group IDs, paged). Read only.
 */
export class Ec2RuleInventory implements RuleInventory {
  private readonly clientFor: Ec2ClientProvider;
  private readonly homeClient: () => EC2Client | Promise<EC2Client>;

  constructor(options: {
    clientFor: Ec2ClientProvider;
    /** The bot's own account in its home region: where the enabled regions are asked. */
    homeClient: () => EC2Client | Promise<EC2Client>;
  }) {
    this.clientFor = options.clientFor;
    this.homeClient = options.homeClient;
  }

  async enabledRegions(): Promise<string[]> {
    const client = await this.homeClient();
    const { DescribeRegionsCommand } = ec2Sdk();
    try {
      const out = await client.send(new DescribeRegionsCommand({}));
      return (out.Regions ?? [])
        .map((r) => r.RegionName)
        .filter((name): name is string => !!name)
        .sort();
    } catch (error) {
      throw awsError('DescribeRegions', error);
    }
  }

  async groupsPage(target: AwsTarget, token: string | null): Promise<GroupPage> {
    const client = await this.clientFor(target);
    const { DescribeSecurityGroupsCommand } = ec2Sdk();
    try {
      const out = await client.send(
        new DescribeSecurityGroupsCommand({
          MaxResults: GROUPS_PER_PAGE,
          ...(token ? { NextToken: token } : {}),
        }),
      );
      const groups: GroupInfo[] = (out.SecurityGroups ?? [])
        .filter((g) => !!g.GroupId)
        .map((g) => ({
          groupId: g.GroupId!,
          name: g.GroupName ?? null,
          vpcId: g.VpcId ?? null,
          tags: Object.fromEntries((g.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
        }));
      return { groups, nextToken: out.NextToken || null };
    } catch (error) {
      throw awsError('DescribeSecurityGroups', error);
    }
  }

  async rulesOfGroups(
    target: AwsTarget,
    groupIds: readonly string[],
  ): Promise<{ rules: RuleFacts[]; calls: number }> {
    if (groupIds.length === 0) return { rules: [], calls: 0 };
    const client = await this.clientFor(target);
    const { DescribeSecurityGroupRulesCommand } = ec2Sdk();
    const rules: RuleFacts[] = [];
    let calls = 0;
    let nextToken: string | undefined;
    try {
      do {
        const out = await client.send(
          new DescribeSecurityGroupRulesCommand({
            Filters: [{ Name: 'group-id', Values: [...groupIds] }],
            MaxResults: RULES_PER_PAGE,
            ...(nextToken ? { NextToken: nextToken } : {}),
          }),
        );
        calls++;
        for (const r of out.SecurityGroupRules ?? []) {
          const facts = ruleFromEc2(r);
          if (facts) rules.push(facts);
        }
        nextToken = out.NextToken || undefined;
      } while (nextToken);
    } catch (error) {
      throw awsError('DescribeSecurityGroupRules', error);
    }
    return { rules, calls };
  }
}
