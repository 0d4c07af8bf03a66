import type { AwsTarget } from '../shared/ports';

/** One network interface that uses a security group, as EC2 describes it (DescribeNetworkInterfaces). */
export interface NetworkInterfaceFacts {
  networkInterfaceId: string;
  /** EC2's InterfaceType: interface, lambda, nat_gateway, vpc_endpoint, network_load_balancer, … */
  interfaceType: string | null;
  /** AWS names what created the interface here: `ELB app/web/50dc…`, `RDSNetworkInterface`, … */
  description: string;
  /** Who created it for you (amazon-elb, amazon-rds, …) when a service did. */
  requesterId: string | null;
  requesterManaged: boolean;
  /** The instance it is attached to, when it is (Attachment.InstanceId). */
  instanceId: string | null;
  /** The attachment's owner: an account ID, or a service (amazon-elb, amazon-aws) for managed attachments. */
  instanceOwnerId: string | null;
  subnetId: string | null;
  vpcId: string | null;
  /** The public IPv4 address associated with it (given at launch or an Elastic IP). */
  publicIpv4: string | null;
  /** True when that address is an Elastic IP (the association names an allocation). */
  isElasticIp: boolean;
  ipv6Addresses: string[];
}

/** One route of a route table. */
export interface RouteFacts {
  /** An IPv4 or IPv6 CIDR, or a prefix-list ID. */
  destination: string | null;
  /** Where it goes: igw-…, eigw-…, nat-…, pcx-…, tgw-…, local, an interface or instance. */
  target: string | null;
  /** active, or blackhole when the target is gone. */
  state: string | null;
}

/** A route table and the subnets it serves. */
export interface RouteTableFacts {
  routeTableId: string;
  vpcId: string | null;
  /** The VPC's main table: it serves every subnet with no table of its own. */
  isMain: boolean;
  subnetIds: string[];
  routes: RouteFacts[];
}

/** An Application, Network or Gateway Load Balancer (ELBv2 DescribeLoadBalancers). */
export interface LoadBalancerFacts {
  name: string;
  /** application, network, gateway. */
  type: string;
  /** The ID at the end of its ARN (…/app/<name>/<id>): tells it from another of the same name. */
  id: string | null;
  /** internet-facing or internal. */
  scheme: string;
}

/**
 * Reads what a security group is attached to, in one account and region: the four reads that decide its
 * exposure. Each throws (AwsCallError) when AWS cannot be read; none of them changes anything.
 */
export interface NetworkReader {
  /** The network interfaces that use the group now (DescribeNetworkInterfaces, filter group-id). */
  interfacesUsingGroup(target: AwsTarget, groupId: string): Promise<NetworkInterfaceFacts[]>;
  /** Every route table of these VPCs, the main ones included (DescribeRouteTables, filter vpc-id). */
  routeTables(target: AwsTarget, vpcIds: readonly string[]): Promise<RouteTableFacts[]>;
  /** The load balancers of these names that exist (ELBv2 DescribeLoadBalancers). */
  loadBalancers(target: AwsTarget, names: readonly string[]): Promise<LoadBalancerFacts[]>;
  /** Instance ID → its Name tag, for the instances that have one (DescribeTags). */
  instanceNames(target: AwsTarget, instanceIds: readonly string[]): Promise<Record<string, string>>;
}

/** A network interface and the groups on it (what an exposure change can move). */
export interface InterfaceGroups {
  networkInterfaceId: string;
  subnetId: string | null;
  vpcId: string | null;
  groupIds: string[];
}

/** The DescribeNetworkInterfaces filters an exposure change is read by. */
export type InterfaceFilter = 'network-interface-id' | 'attachment.instance-id' | 'subnet-id' | 'vpc-id';

/**
 * Reads what an exposure change touched, in one account and region (services/exposure/moved.ts). Read
 * only; each throws (AwsCallError) when AWS cannot be read.
 */
export interface ChangeReader {
  /**
   * The interfaces matching the filter, with their groups, read page by page until more than `groupLimit`
   * distinct groups were seen (`complete: false`: there may be more).
   */
  interfacesBy(
    target: AwsTarget,
    filter: InterfaceFilter,
    values: readonly string[],
    groupLimit: number,
  ): Promise<{ interfaces: InterfaceGroups[]; complete: boolean }>;
  /** These route tables (DescribeRouteTables, filter route-table-id). */
  routeTablesById(target: AwsTarget, routeTableIds: readonly string[]): Promise<RouteTableFacts[]>;
  /** The groups of these ELBv2 load balancers (DescribeLoadBalancers by ARN); [] for one that is gone. */
  loadBalancerGroups(target: AwsTarget, arns: readonly string[]): Promise<string[]>;
}
