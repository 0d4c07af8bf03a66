import type { EC2Client, Filter, Instance } from '@aws-sdk/client-ec2';
import type { GroupInstanceFinder, InstanceFinder, InstanceInfo } from '../shared/ports';
import { awsError } from './ec2-security-groups';
import { ec2Sdk } from './sdk';

/** Gives the EC2 client for a region (created lazily and cached by the provider). */
export type Ec2RegionClientProvider = (region: string) => Promise<EC2Client> | EC2Client;

function toInfo(instance: Instance): InstanceInfo | null {
  if (!instance.InstanceId) return null;
  const tags = Object.fromEntries((instance.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
  return {
    instanceId: instance.InstanceId,
    name: tags.Name ?? null,
    state: instance.State?.Name ?? 'unknown',
    tags,
  };
}

/** Finds instances for `/sg-run` targets, and those behind a security group, through EC2 DescribeInstances. */
export class Ec2InstanceFinder implements InstanceFinder, GroupInstanceFinder {
  private readonly clientFor: Ec2RegionClientProvider;

  constructor(options: { clientFor: Ec2RegionClientProvider }) {
    this.clientFor = options.clientFor;
  }

  async instancesById(region: string, instanceIds: readonly string[]): Promise<InstanceInfo[]> {
    if (instanceIds.length === 0) return [];
    // A filter (not InstanceIds) so that an unknown ID means "not found", not an error for the whole call.
    return this.describe(region, [{ Name: 'instance-id', Values: [...instanceIds] }]);
  }

  async instancesByTags(region: string, tags: Record<string, string>): Promise<InstanceInfo[]> {
    const filters = Object.entries(tags).map(([key, value]) => ({ Name: `tag:${key}`, Values: [value] }));
    if (filters.length === 0) return [];
    return this.describe(region, filters);
  }

  /** The instances with this security group (DescribeInstances, filter `instance.group-id`). */
  async instancesInGroup(region: string, groupId: string): Promise<InstanceInfo[]> {
    return this.describe(region, [{ Name: 'instance.group-id', Values: [groupId] }]);
  }

  private async describe(region: string, filters: Filter[]): Promise<InstanceInfo[]> {
    const client = await this.clientFor(region);
    const { DescribeInstancesCommand } = ec2Sdk();
    const out: InstanceInfo[] = [];
    let nextToken: string | undefined;
    try {
      do {
        const page = await client.send(
          new DescribeInstancesCommand({ Filters: filters, NextToken: nextToken, MaxResults: 1000 }),
        );
        for (const reservation of page.Reservations ?? []) {
          for (const instance of reservation.Instances ?? []) {
            const info = toInfo(instance);
            if (info) out.push(info);
          }
        }
        nextToken = page.NextToken;
      } while (nextToken);
    } catch (error) {
      throw awsError('DescribeInstances', error);
    }
    return out;
  }
}
