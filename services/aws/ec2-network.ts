import type { NetworkInterface, Route, RouteTable } from '@aws-sdk/client-ec2';
import type { ElasticLoadBalancingV2Client, LoadBalancer } from '@aws-sdk/client-elastic-load-balancing-v2';
import type {
  ChangeReader,
  InterfaceFilter,
  InterfaceGroups,
  LoadBalancerFacts,
  NetworkInterfaceFacts,
  NetworkReader,
  RouteFacts,
  RouteTableFacts,
} from '../exposure/ports';
import type { AwsTarget } from '../shared/ports';
import { awsError, type Ec2ClientProvider } from './ec2-security-groups';
import { ec2Sdk, elbv2Sdk } from './sdk';

/** Gives the ELBv2 client for an account and region (created lazily, cached by the provider). */
export type ElbClientProvider = (
  target: AwsTarget,
) => Promise<ElasticLoadBalancingV2Client> | ElasticLoadBalancingV2Client;

/** Memoises a client factory per account and region: one client each, created on first use. */
export function perTarget<T>(create: (target: AwsTarget) => T): (target: AwsTarget) => T {
  const clients = new Map<string, T>();
  return (target) => {
    const key = `${target.account}/${target.region}`;
    let client = clients.get(key);
    if (client === undefined) {
      client = create(target);
      clients.set(key, client);
    }
    return client;
  };
}

// Limits of the APIs: DescribeLoadBalancers takes 20 names, an EC2 filter 200 values.
const LB_NAMES_PER_CALL = 20;
const FILTER_VALUES_PER_CALL = 200;

function chunks<T>(values: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < values.length; i += size) out.push(values.slice(i, i + size));
  return out;
}

/** The interface's public IPv4 address: the primary address's, else a secondary address's (an Elastic IP). */
function publicAddressOf(ni: NetworkInterface): { ip: string; isElasticIp: boolean } | null {
  const associations = [ni.Association, ...(ni.PrivateIpAddresses ?? []).map((p) => p.Association)];
  for (const a of associations) {
    if (a?.PublicIp) return { ip: a.PublicIp, isElasticIp: Boolean(a.AllocationId) };
  }
  return null;
}

/** Converts EC2's network interface to the facts exposure decides from. */
export function interfaceFacts(ni: NetworkInterface): NetworkInterfaceFacts | null {
  if (!ni.NetworkInterfaceId) return null;
  const address = publicAddressOf(ni);
  return {
    networkInterfaceId: ni.NetworkInterfaceId,
    interfaceType: ni.InterfaceType ?? null,
    description: ni.Description ?? '',
    requesterId: ni.RequesterId ?? null,
    requesterManaged: ni.RequesterManaged ?? false,
    instanceId: ni.Attachment?.InstanceId ?? null,
    instanceOwnerId: ni.Attachment?.InstanceOwnerId ?? null,
    subnetId: ni.SubnetId ?? null,
    vpcId: ni.VpcId ?? null,
    publicIpv4: address?.ip ?? null,
    isElasticIp: address?.isElasticIp ?? false,
    ipv6Addresses: (ni.Ipv6Addresses ?? []).flatMap((a) => (a.Ipv6Address ? [a.Ipv6Address] : [])),
  };
}

function routeFacts(r: Route): RouteFacts {
  return {
    destination: r.DestinationCidrBlock ?? r.DestinationIpv6CidrBlock ?? r.DestinationPrefixListId ?? null,
    target:
      r.GatewayId ??
      r.EgressOnlyInternetGatewayId ??
      r.NatGatewayId ??
      r.TransitGatewayId ??
      r.VpcPeeringConnectionId ??
      r.NetworkInterfaceId ??
      r.InstanceId ??
      r.LocalGatewayId ??
      r.CarrierGatewayId ??
      r.CoreNetworkArn ??
      null,
    state: r.State ?? null,
  };
}

/** Converts EC2's route table to the facts exposure decides from. */
export function routeTableFacts(t: RouteTable): RouteTableFacts | null {
  if (!t.RouteTableId) return null;
  const live = (t.Associations ?? []).filter((a) => a.AssociationState?.State !== 'disassociated');
  return {
    routeTableId: t.RouteTableId,
    vpcId: t.VpcId ?? null,
    isMain: live.some((a) => a.Main === true),
    subnetIds: live.flatMap((a) => (a.SubnetId ? [a.SubnetId] : [])),
    routes: (t.Routes ?? []).map(routeFacts),
  };
}

/** Converts an ELBv2 load balancer to the facts exposure decides from. */
export function loadBalancerFacts(lb: LoadBalancer): LoadBalancerFacts | null {
  if (!lb.LoadBalancerName) return null;
  const id =
    /:loadbalancer\/(?:app|net|gwy)\/[^/]+\/([0-9a-f]+)$/.exec(lb.LoadBalancerArn ?? '')?.[1] ?? null;
  return { name: lb.LoadBalancerName, type: lb.Type ?? 'application', id, scheme: lb.Scheme ?? 'unknown' };
}

/**
 * What a security group is attached to, read through EC2 (network interfaces, route tables, tags) and
 * ELBv2 (load balancer schemes). Read only.
 */
export class Ec2Network implements NetworkReader, ChangeReader {
  private readonly ec2For: Ec2ClientProvider;
  private readonly elbFor: ElbClientProvider;

  constructor(options: { ec2For: Ec2ClientProvider; elbFor: ElbClientProvider }) {
    this.ec2For = options.ec2For;
    this.elbFor = options.elbFor;
  }

  async interfacesUsingGroup(target: AwsTarget, groupId: string): Promise<NetworkInterfaceFacts[]> {
    const client = await this.ec2For(target);
    const { DescribeNetworkInterfacesCommand } = ec2Sdk();
    const out: NetworkInterfaceFacts[] = [];
    let nextToken: string | undefined;
    try {
      do {
        const page = await client.send(
          new DescribeNetworkInterfacesCommand({
            Filters: [{ Name: 'group-id', Values: [groupId] }],
            MaxResults: 1000,
            NextToken: nextToken,
          }),
        );
        for (const ni of page.NetworkInterfaces ?? []) {
          const facts = interfaceFacts(ni);
          if (facts) out.push(facts);
        }
        nextToken = page.NextToken;
      } while (nextToken);
    } catch (error) {
      throw awsError('DescribeNetworkInterfaces', error);
    }
    return out;
  }

  async routeTables(target: AwsTarget, vpcIds: readonly string[]): Promise<RouteTableFacts[]> {
    if (vpcIds.length === 0) return [];
    const client = await this.ec2For(target);
    const { DescribeRouteTablesCommand } = ec2Sdk();
    const out: RouteTableFacts[] = [];
    let nextToken: string | undefined;
    try {
      do {
        const page = await client.send(
          new DescribeRouteTablesCommand({
            Filters: [{ Name: 'vpc-id', Values: [...vpcIds] }],
            MaxResults: 100,
            NextToken: nextToken,
          }),
        );
        for (const t of page.RouteTables ?? []) {
          const facts = routeTableFacts(t);
          if (facts) out.push(facts);
        }
        nextToken = page.NextToken;
      } while (nextToken);
    } catch (error) {
      throw awsError('DescribeRouteTables', error);
    }
    return out;
  }

  async loadBalancers(target: AwsTarget, names: readonly string[]): Promise<LoadBalancerFacts[]> {
    if (names.length === 0) return [];
    const client = await this.elbFor(target);
    const { DescribeLoadBalancersCommand } = elbv2Sdk();
    const out: LoadBalancerFacts[] = [];
    for (const batch of chunks(names, LB_NAMES_PER_CALL)) {
      try {
        const page = await client.send(new DescribeLoadBalancersCommand({ Names: batch }));
        for (const lb of page.LoadBalancers ?? []) {
          const facts = loadBalancerFacts(lb);
          if (facts) out.push(facts);
        }
      } catch (error) {
        const err = awsError('DescribeLoadBalancers', error);
        // One name that is gone: nothing to report. Among several, AWS does not say which: not known.
        if (/^LoadBalancerNotFound/.test(err.awsCode) && batch.length === 1) continue;
        throw err;
      }
    }
    return out;
  }

  async instanceNames(target: AwsTarget, instanceIds: readonly string[]): Promise<Record<string, string>> {
    if (instanceIds.length === 0) return {};
    const client = await this.ec2For(target);
    const { DescribeTagsCommand } = ec2Sdk();
    const names: Record<string, string> = {};
    try {
      for (const batch of chunks(instanceIds, FILTER_VALUES_PER_CALL)) {
        let nextToken: string | undefined;
        do {
          const page = await client.send(
            new DescribeTagsCommand({
              Filters: [
                { Name: 'resource-id', Values: batch },
                { Name: 'key', Values: ['Name'] },
              ],
              MaxResults: 1000,
              NextToken: nextToken,
            }),
          );
          for (const tag of page.Tags ?? []) {
            if (tag.ResourceId && tag.Key === 'Name' && tag.Value !== undefined)
              names[tag.ResourceId] = tag.Value;
          }
          nextToken = page.NextToken;
        } while (nextToken);
      }
    } catch (error) {
      throw awsError('DescribeTags', error);
    }
    return names;
  }
  async interfacesBy(
    target: AwsTarget,
    filter: InterfaceFilter,
    values: readonly string[],
    groupLimit: number,
  ): Promise<{ interfaces: InterfaceGroups[]; complete: boolean }> {
    if (values.length === 0) return { interfaces: [], complete: true };
    const client = await this.ec2For(target);
    const { DescribeNetworkInterfacesCommand } = ec2Sdk();
    const interfaces: InterfaceGroups[] = [];
    const groups = new Set<string>();
    try {
      for (const batch of chunks(values, FILTER_VALUES_PER_CALL)) {
        let nextToken: string | undefined;
        do {
          const page = await client.send(
            new DescribeNetworkInterfacesCommand({
              Filters: [{ Name: filter, Values: batch }],
              MaxResults: 1000,
              NextToken: nextToken,
            }),
          );
          for (const ni of page.NetworkInterfaces ?? []) {
            if (!ni.NetworkInterfaceId) continue;
            const groupIds = (ni.Groups ?? []).flatMap((g) => (g.GroupId ? [g.GroupId] : []));
            for (const g of groupIds) groups.add(g);
            interfaces.push({
              networkInterfaceId: ni.NetworkInterfaceId,
              subnetId: ni.SubnetId ?? null,
              vpcId: ni.VpcId ?? null,
              groupIds,
            });
          }
          nextToken = page.NextToken;
          // Past the limit the rest is left to the scan: no more pages are read.
          if (groups.size > groupLimit) return { interfaces, complete: false };
        } while (nextToken);
      }
    } catch (error) {
      throw awsError('DescribeNetworkInterfaces', error);
    }
    return { interfaces, complete: true };
  }

  async routeTablesById(target: AwsTarget, routeTableIds: readonly string[]): Promise<RouteTableFacts[]> {
    if (routeTableIds.length === 0) return [];
    const client = await this.ec2For(target);
    const { DescribeRouteTablesCommand } = ec2Sdk();
    try {
      const page = await client.send(
        new DescribeRouteTablesCommand({ Filters: [{ Name: 'route-table-id', Values: [...routeTableIds] }] }),
      );
      return (page.RouteTables ?? []).flatMap((t) => {
        const facts = routeTableFacts(t);
        return facts ? [facts] : [];
      });
    } catch (error) {
      throw awsError('DescribeRouteTables', error);
    }
  }

  async loadBalancerGroups(target: AwsTarget, arns: readonly string[]): Promise<string[]> {
    if (arns.length === 0) return [];
    const client = await this.elbFor(target);
    const { DescribeLoadBalancersCommand } = elbv2Sdk();
    const groups = new Set<string>();
    for (const batch of chunks(arns, LB_NAMES_PER_CALL)) {
      try {
        const page = await client.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: batch }));
        for (const lb of page.LoadBalancers ?? []) for (const g of lb.SecurityGroups ?? []) groups.add(g);
      } catch (error) {
        const err = awsError('DescribeLoadBalancers', error);
        if (/^LoadBalancerNotFound/.test(err.awsCode) && batch.length === 1) continue;
        throw err;
      }
    }
    return [...groups];
  }
}
