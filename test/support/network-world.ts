import {
  AllocateAddressCommand,
  AssociateAddressCommand,
  AssociateRouteTableCommand,
  AttachInternetGatewayCommand,
  CreateInternetGatewayCommand,
  CreateNetworkInterfaceCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  type EC2Client,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import {
  CreateLoadBalancerCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { ec2Client, motoUrl, uniqueName } from './aws';

/**
 * A VPC built through the SDK in the emulator, the way a real account is laid out: two public subnets
 * (their own route table sends 0.0.0.0/0 to an internet gateway) and two private ones (the main table:
 * local routes only), in two availability zones.
 */
export interface NetworkWorld {
  region: string;
  vpcId: string;
  internetGatewayId: string;
  publicRouteTableId: string;
  /** Route-table association IDs of the public subnets, by subnet. */
  publicAssociations: Record<string, string>;
  publicSubnets: [string, string];
  privateSubnets: [string, string];
}

let octet = 40 + Math.floor(Math.random() * 150);

export function elbClient(region = 'us-east-1'): ElasticLoadBalancingV2Client {
  return new ElasticLoadBalancingV2Client({
    region,
    endpoint: motoUrl(),
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
}

export async function buildNetworkWorld(
  region = 'us-east-1',
  ec2: EC2Client = ec2Client(region),
): Promise<NetworkWorld> {
  const base = `10.${octet++ % 250}`;
  const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: `${base}.0.0/16` }))).Vpc!.VpcId!;
  const subnet = async (third: number, zone: string) =>
    (
      await ec2.send(
        new CreateSubnetCommand({
          VpcId: vpcId,
          CidrBlock: `${base}.${third}.0/24`,
          AvailabilityZone: `${region}${zone}`,
        }),
      )
    ).Subnet!.SubnetId!;
  const publicSubnets: [string, string] = [await subnet(1, 'a'), await subnet(2, 'b')];
  const privateSubnets: [string, string] = [await subnet(11, 'a'), await subnet(12, 'b')];
  const internetGatewayId = (await ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!
    .InternetGatewayId!;
  await ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: internetGatewayId, VpcId: vpcId }));
  const publicRouteTableId = (await ec2.send(new CreateRouteTableCommand({ VpcId: vpcId }))).RouteTable!
    .RouteTableId!;
  await ec2.send(
    new CreateRouteCommand({
      RouteTableId: publicRouteTableId,
      DestinationCidrBlock: '0.0.0.0/0',
      GatewayId: internetGatewayId,
    }),
  );
  const publicAssociations: Record<string, string> = {};
  for (const subnetId of publicSubnets) {
    const out = await ec2.send(
      new AssociateRouteTableCommand({ RouteTableId: publicRouteTableId, SubnetId: subnetId }),
    );
    publicAssociations[subnetId] = out.AssociationId!;
  }
  return {
    region,
    vpcId,
    internetGatewayId,
    publicRouteTableId,
    publicAssociations,
    publicSubnets,
    privateSubnets,
  };
}

export async function createWorldGroup(
  world: NetworkWorld,
  prefix = 'exposure',
  ec2: EC2Client = ec2Client(world.region),
): Promise<string> {
  const out = await ec2.send(
    new CreateSecurityGroupCommand({
      GroupName: uniqueName(prefix),
      Description: 'exposure test',
      VpcId: world.vpcId,
    }),
  );
  return out.GroupId!;
}

/** Launches one instance in a subnet with these groups, a Name tag, and a public IPv4 address when asked. */
export async function launchInWorld(
  world: NetworkWorld,
  options: { subnetId: string; groupIds: string[]; name: string; publicIp: boolean; ec2?: EC2Client },
): Promise<{ instanceId: string; publicIp: string | null; networkInterfaceId: string }> {
  const out = await (options.ec2 ?? ec2Client(world.region)).send(
    new RunInstancesCommand({
      ImageId: 'ami-12c6146b',
      InstanceType: 't3.micro',
      MinCount: 1,
      MaxCount: 1,
      NetworkInterfaces: [
        {
          DeviceIndex: 0,
          SubnetId: options.subnetId,
          Groups: options.groupIds,
          AssociatePublicIpAddress: options.publicIp,
        },
      ],
      TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: options.name }] }],
    }),
  );
  const instance = out.Instances![0]!;
  return {
    instanceId: instance.InstanceId!,
    publicIp: instance.PublicIpAddress ?? null,
    networkInterfaceId: instance.NetworkInterfaces![0]!.NetworkInterfaceId!,
  };
}

/**
 * An Application Load Balancer through ELBv2, with the network interfaces AWS would give it. The emulator
 * creates none for a load balancer, so they are made here the way AWS names them: one per subnet, with the
 * description `ELB app/<name>/<id>` (the ARN's tail) and the load balancer's groups. The emulator cannot set
 * the requester (amazon-elb) or the interface type, so the description is what tells them apart, as it does
 * in AWS. `elasticIp`: give each interface a public address (AWS does for internet-facing ones).
 */
export async function createAlbInWorld(
  world: NetworkWorld,
  options: {
    name: string;
    scheme: 'internet-facing' | 'internal';
    groupIds: string[];
    elasticIp?: boolean;
    /** Another account's clients (a member account); default: moto's own account. */
    ec2?: EC2Client;
    elb?: ElasticLoadBalancingV2Client;
  },
): Promise<{ arn: string; arnTail: string; networkInterfaceIds: string[]; publicIps: string[] }> {
  const subnets = options.scheme === 'internet-facing' ? world.publicSubnets : world.privateSubnets;
  const out = await (options.elb ?? elbClient(world.region)).send(
    new CreateLoadBalancerCommand({
      Name: options.name,
      Subnets: [...subnets],
      SecurityGroups: options.groupIds,
      Scheme: options.scheme,
      Type: 'application',
    }),
  );
  const arn = out.LoadBalancers![0]!.LoadBalancerArn!;
  const arnTail = arn.slice(arn.indexOf(':loadbalancer/') + ':loadbalancer/'.length);
  const ec2 = options.ec2 ?? ec2Client(world.region);
  const networkInterfaceIds: string[] = [];
  const publicIps: string[] = [];
  for (const subnetId of subnets) {
    const eni = await ec2.send(
      new CreateNetworkInterfaceCommand({
        SubnetId: subnetId,
        Groups: options.groupIds,
        Description: `ELB ${arnTail}`,
      }),
    );
    const eniId = eni.NetworkInterface!.NetworkInterfaceId!;
    networkInterfaceIds.push(eniId);
    if (options.elasticIp) {
      const address = await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
      await ec2.send(
        new AssociateAddressCommand({ AllocationId: address.AllocationId!, NetworkInterfaceId: eniId }),
      );
      publicIps.push(address.PublicIp!);
    }
  }
  return { arn, arnTail, networkInterfaceIds, publicIps };
}
