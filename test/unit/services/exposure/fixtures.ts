import type {
  LoadBalancerFacts,
  NetworkInterfaceFacts,
  RouteTableFacts,
} from '../../../../services/exposure/ports';

export const VPC = 'vpc-0a1b2c3d';
export const PUBLIC_SUBNET = 'subnet-0public';
export const PRIVATE_SUBNET = 'subnet-0private';
export const IGW = 'igw-0abc';

/** A network interface with defaults: an instance's primary interface in the private subnet, no public address. */
export function eni(overrides: Partial<NetworkInterfaceFacts> = {}): NetworkInterfaceFacts {
  return {
    networkInterfaceId: 'eni-0000000000000001',
    interfaceType: 'interface',
    description: 'Primary network interface',
    requesterId: null,
    requesterManaged: false,
    instanceId: null,
    instanceOwnerId: null,
    subnetId: PRIVATE_SUBNET,
    vpcId: VPC,
    publicIpv4: null,
    isElasticIp: false,
    ipv6Addresses: [],
    ...overrides,
  };
}

/** An instance's interface: `public` puts it in the routed subnet with a public address. */
export function instanceEni(
  instanceId: string,
  options: { publicIp?: string; subnetId?: string; eniId?: string } = {},
): NetworkInterfaceFacts {
  return eni({
    networkInterfaceId: options.eniId ?? `eni-${instanceId.slice(2)}`,
    instanceId,
    instanceOwnerId: '123456789012',
    subnetId: options.subnetId ?? (options.publicIp ? PUBLIC_SUBNET : PRIVATE_SUBNET),
    publicIpv4: options.publicIp ?? null,
  });
}

/** An interface of an Application Load Balancer, as AWS creates it. */
export function albEni(name: string, lbId: string, options: Partial<NetworkInterfaceFacts> = {}) {
  return eni({
    networkInterfaceId: `eni-lb${lbId.slice(0, 6)}`,
    description: `ELB app/${name}/${lbId}`,
    requesterId: 'amazon-elb',
    requesterManaged: true,
    instanceOwnerId: 'amazon-elb',
    subnetId: PUBLIC_SUBNET,
    ...options,
  });
}

/** The VPC's tables: main (local only) and one for the public subnet with 0.0.0.0/0 → IGW. */
export function tables(): RouteTableFacts[] {
  return [
    {
      routeTableId: 'rtb-main',
      vpcId: VPC,
      isMain: true,
      subnetIds: [],
      routes: [{ destination: '10.0.0.0/16', target: 'local', state: 'active' }],
    },
    {
      routeTableId: 'rtb-public',
      vpcId: VPC,
      isMain: false,
      subnetIds: [PUBLIC_SUBNET],
      routes: [
        { destination: '10.0.0.0/16', target: 'local', state: 'active' },
        { destination: '0.0.0.0/0', target: IGW, state: 'active' },
      ],
    },
  ];
}

export function lb(name: string, id: string, scheme: 'internet-facing' | 'internal'): LoadBalancerFacts {
  return { name, type: 'application', id, scheme };
}
