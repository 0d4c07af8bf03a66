import {
  attachmentLabel,
  classify,
  cleanName,
  isPublicIpv6,
  type NetworkFacts,
  ownerOf,
  planThirdRead,
  subnetRouting,
} from '../../../../services/exposure/classify';
import type { NetworkInterfaceFacts, RouteTableFacts } from '../../../../services/exposure/ports';
import { albEni, eni, IGW, instanceEni, lb, PRIVATE_SUBNET, PUBLIC_SUBNET, tables, VPC } from './fixtures';

const ok = <T>(value: T) => ({ ok: true as const, value });
const failed = (failure: string) => ({ ok: false as const, failure });

function facts(
  interfaces: NetworkInterfaceFacts[],
  extra: Partial<Omit<NetworkFacts, 'interfaces'>> = {},
): NetworkFacts {
  return { interfaces: ok(interfaces), routeTables: ok(tables()), ...extra };
}

describe('exposure classify', () => {
  describe('what an interface belongs to', () => {
    it('names an instance by its attachment, and load balancers, RDS, Lambda, ECS, NAT and endpoints by what AWS writes', () => {
      expect(ownerOf(instanceEni('i-0abc'))).toMatchObject({ type: 'instance', id: 'i-0abc' });
      expect(ownerOf(albEni('web', '50dc6c495c0c9188'))).toMatchObject({
        type: 'load-balancer',
        id: 'app/web/50dc6c495c0c9188',
        name: 'web',
        loadBalancer: { kind: 'application', name: 'web', lbId: '50dc6c495c0c9188' },
      });
      expect(
        ownerOf(eni({ description: 'ELB net/edge/0123abcd', interfaceType: 'network_load_balancer' })),
      ).toMatchObject({ type: 'load-balancer', loadBalancer: { kind: 'network', name: 'edge' } });
      expect(ownerOf(eni({ description: 'ELB legacy-web', requesterId: 'amazon-elb' }))).toMatchObject({
        type: 'load-balancer',
        id: 'legacy-web',
        loadBalancer: { kind: 'classic' },
      });
      expect(
        ownerOf(
          eni({
            networkInterfaceId: 'eni-rds',
            description: 'RDSNetworkInterface',
            requesterId: 'amazon-rds',
          }),
        ),
      ).toMatchObject({ type: 'rds', id: 'eni-rds' });
      expect(
        ownerOf(eni({ interfaceType: 'lambda', description: 'AWS Lambda VPC ENI-orders-api' })),
      ).toMatchObject({ type: 'lambda', name: 'orders-api' });
      expect(
        ownerOf(eni({ description: 'AWS Lambda VPC ENI-orders-api-1b3c5d7e-0a1b-4c2d-8e3f-0123456789ab' })),
      ).toMatchObject({ type: 'lambda', name: 'orders-api' });
      expect(
        ownerOf(
          eni({
            description: 'arn:aws:ecs:eu-west-1:123456789012:attachment/0f7a9b2c-1111-2222-3333-444455556666',
            instanceId: 'i-0host',
            instanceOwnerId: '123456789012',
          }),
        ),
      ).toMatchObject({ type: 'ecs-task' });
      expect(
        ownerOf(eni({ interfaceType: 'nat_gateway', description: 'Interface for NAT Gateway nat-0123abcd' })),
      ).toMatchObject({ type: 'nat-gateway', id: 'nat-0123abcd' });
      expect(
        ownerOf(eni({ interfaceType: 'vpc_endpoint', description: 'VPC Endpoint Interface vpce-0123abcd' })),
      ).toMatchObject({ type: 'vpc-endpoint', id: 'vpce-0123abcd' });
      expect(
        ownerOf(eni({ networkInterfaceId: 'eni-efs', description: 'EFS mount target for fs-1' })),
      ).toEqual({
        type: 'other',
        id: 'eni-efs',
        name: 'EFS mount target for fs-1',
        loadBalancer: null,
      });
    });

    it('does not take an interface a service attached to an instance for the instance itself', () => {
      const managed = eni({ instanceId: 'i-0abc', instanceOwnerId: 'amazon-aws', description: '' });
      expect(ownerOf(managed).type).toBe('other');
    });
  });

  describe('which subnets route to the internet', () => {
    it('uses the subnet’s own table, else the VPC’s main table', () => {
      expect(subnetRouting(PUBLIC_SUBNET, VPC, tables())).toEqual({
        routeTableId: 'rtb-public',
        v4: IGW,
        v6: null,
      });
      expect(subnetRouting(PRIVATE_SUBNET, VPC, tables())).toEqual({
        routeTableId: 'rtb-main',
        v4: null,
        v6: null,
      });
      expect(subnetRouting(PRIVATE_SUBNET, 'vpc-other', tables())).toBeNull();
    });

    it('counts ::/0 to an internet gateway for IPv6, but not an egress-only gateway, a NAT or a blackhole', () => {
      const t = (routes: RouteTableFacts['routes']): RouteTableFacts[] => [
        { routeTableId: 'rtb-1', vpcId: VPC, isMain: true, subnetIds: [], routes },
      ];
      expect(
        subnetRouting('subnet-x', VPC, t([{ destination: '::/0', target: IGW, state: 'active' }])),
      ).toMatchObject({ v4: null, v6: IGW });
      expect(
        subnetRouting(
          'subnet-x',
          VPC,
          t([
            { destination: '::/0', target: 'eigw-0abc', state: 'active' },
            { destination: '0.0.0.0/0', target: 'nat-0abc', state: 'active' },
            { destination: '0.0.0.0/0', target: IGW, state: 'blackhole' },
          ]),
        ),
      ).toMatchObject({ v4: null, v6: null });
    });
  });

  describe('classes', () => {
    it('is internet for a public address in a subnet routed to an internet gateway, and says through what', () => {
      const exposure = classify(
        facts([instanceEni('i-0abc', { publicIp: '3.248.1.9' })], {
          instanceNames: ok({ 'i-0abc': 'web-1' }),
        }),
      );
      expect(exposure.exposure).toBe('internet');
      expect(exposure.reason).toBe('reachable from the internet through i-0abc (web-1, 3.248.1.9)');
      expect(exposure.attachments).toEqual([
        {
          type: 'instance',
          id: 'i-0abc',
          name: 'web-1',
          publicIp: '3.248.1.9',
          subnetId: PUBLIC_SUBNET,
          routesToInternet: true,
          exposure: 'internet',
          reason: `public address 3.248.1.9 in a subnet routed to ${IGW}`,
          networkInterfaceIds: ['eni-0abc'],
        },
      ]);
      expect(exposure.failures).toEqual([]);
    });

    it('is internal for the same public address in a subnet with no route to an internet gateway', () => {
      const exposure = classify(
        facts([instanceEni('i-0abc', { publicIp: '3.248.1.9', subnetId: PRIVATE_SUBNET })]),
      );
      expect(exposure.exposure).toBe('internal');
      expect(exposure.attachments[0]).toMatchObject({
        routesToInternet: false,
        exposure: 'internal',
        reason: `public address 3.248.1.9, but subnet ${PRIVATE_SUBNET} has no route to an internet gateway`,
      });
      expect(exposure.reason).toMatch(
        /^not reachable from the internet: 1 attachment \(i-0abc \(3\.248\.1\.9\)\)/,
      );
    });

    it('is internal for an interface with no public address, even in a routed subnet', () => {
      const exposure = classify(facts([instanceEni('i-0abc', { subnetId: PUBLIC_SUBNET })]));
      expect(exposure.exposure).toBe('internal');
      expect(exposure.attachments[0]).toMatchObject({ routesToInternet: true, reason: 'no public address' });
    });

    it('is unattached when no interface uses the group', () => {
      expect(classify({ interfaces: ok([]) })).toEqual({
        exposure: 'unattached',
        attachments: [],
        reason: 'no network interface uses this group now',
        failures: [],
      });
    });

    it('names an Elastic IP, and reaches IPv6 only through an IPv6 route', () => {
      const eip = classify(
        facts([
          eni({
            instanceId: 'i-0e',
            instanceOwnerId: '1',
            subnetId: PUBLIC_SUBNET,
            publicIpv4: '52.1.2.3',
            isElasticIp: true,
          }),
        ]),
      );
      expect(eip.attachments[0]!.reason).toBe(`Elastic IP 52.1.2.3 in a subnet routed to ${IGW}`);
      const v6only = classify(facts([eni({ subnetId: PUBLIC_SUBNET, ipv6Addresses: ['2600:1f18::10'] })]));
      expect(v6only.exposure).toBe('internal');
      expect(v6only.attachments[0]!.publicIp).toBe('2600:1f18::10');
      const v6routed = tables();
      v6routed[1]!.routes.push({ destination: '::/0', target: IGW, state: 'active' });
      expect(
        classify({
          ...facts([eni({ subnetId: PUBLIC_SUBNET, ipv6Addresses: ['2600:1f18::10'] })]),
          routeTables: ok(v6routed),
        }).exposure,
      ).toBe('internet');
      expect(isPublicIpv6('fd12:3456::1')).toBe(false);
      expect(isPublicIpv6('fe80::1')).toBe(false);
    });
  });

  describe('load balancers', () => {
    it('is internet for an internet-facing load balancer, whatever its interfaces show', () => {
      const exposure = classify(
        facts([albEni('web', '50dc6c495c0c9188')], {
          loadBalancers: ok([lb('web', '50dc6c495c0c9188', 'internet-facing')]),
        }),
      );
      expect(exposure.exposure).toBe('internet');
      expect(exposure.reason).toBe('reachable from the internet through load balancer web (internet-facing)');
      expect(exposure.attachments[0]).toMatchObject({
        type: 'load-balancer',
        reason: 'internet-facing load balancer',
      });
    });

    it('is internal for an internal load balancer', () => {
      const exposure = classify(
        facts([albEni('api', 'aa11bb22', { subnetId: PRIVATE_SUBNET })], {
          loadBalancers: ok([lb('api', 'aa11bb22', 'internal')]),
        }),
      );
      expect(exposure.exposure).toBe('internal');
      expect(exposure.attachments[0]).toMatchObject({ reason: 'internal load balancer' });
    });

    it('does not match a load balancer of the same name recreated with another ID', () => {
      const exposure = classify(
        facts([albEni('web', '50dc6c495c0c9188')], {
          loadBalancers: ok([lb('web', 'ffff0000', 'internal')]),
        }),
      );
      expect(exposure.exposure).toBe('unknown');
      expect(exposure.attachments[0]!.reason).toBe('no public address, and load balancer web was not found');
    });

    it('takes one attachment per load balancer, whatever number of interfaces it has', () => {
      const exposure = classify(
        facts(
          [
            albEni('web', '50dc', { networkInterfaceId: 'eni-a' }),
            albEni('web', '50dc', { networkInterfaceId: 'eni-b', subnetId: PRIVATE_SUBNET }),
          ],
          { loadBalancers: ok([lb('web', '50dc', 'internet-facing')]) },
        ),
      );
      expect(exposure.attachments).toHaveLength(1);
      expect(exposure.attachments[0]!.networkInterfaceIds).toEqual(['eni-a', 'eni-b']);
    });
  });

  describe('mixed and failed', () => {
    it('puts the most exposed attachments first and counts the others', () => {
      const exposure = classify(
        facts(
          [
            instanceEni('i-0priv'),
            instanceEni('i-0pub1', { publicIp: '3.248.1.9' }),
            albEni('web', '50dc'),
            instanceEni('i-0pub2', { publicIp: '3.248.1.10' }),
          ],
          { loadBalancers: ok([lb('web', '50dc', 'internet-facing')]) },
        ),
      );
      expect(exposure.exposure).toBe('internet');
      expect(exposure.attachments.map((a) => [a.id, a.exposure])).toEqual([
        ['i-0pub1', 'internet'],
        ['app/web/50dc', 'internet'],
        ['i-0pub2', 'internet'],
        ['i-0priv', 'internal'],
      ]);
      expect(exposure.reason).toBe('reachable from the internet through i-0pub1 (3.248.1.9) and 2 more');
    });

    it('is unknown when the interfaces could not be read', () => {
      expect(
        classify({ interfaces: failed('DescribeNetworkInterfaces failed (UnauthorizedOperation)') }),
      ).toEqual({
        exposure: 'unknown',
        attachments: [],
        reason: 'exposure unknown: DescribeNetworkInterfaces failed (UnauthorizedOperation)',
        failures: ['DescribeNetworkInterfaces failed (UnauthorizedOperation)'],
      });
    });

    it('is unknown for a public address whose routes could not be read, but never for one with no public address', () => {
      const routesFailed = { routeTables: failed('DescribeRouteTables failed (UnauthorizedOperation)') };
      const pub = classify(facts([instanceEni('i-0abc', { publicIp: '3.248.1.9' })], routesFailed));
      expect(pub.exposure).toBe('unknown');
      expect(pub.reason).toBe(
        "exposure unknown: i-0abc (3.248.1.9) has public address 3.248.1.9, but its subnet's routes could not be read: DescribeRouteTables failed (UnauthorizedOperation)",
      );
      expect(pub.attachments[0]!.routesToInternet).toBeNull();
      expect(classify(facts([instanceEni('i-0abc')], routesFailed)).exposure).toBe('internal');
    });

    it('stays internet when one attachment is reachable even though another could not be decided', () => {
      const exposure = classify(
        facts(
          [
            albEni('web', '50dc', { publicIpv4: '3.1.1.1' }),
            albEni('api', '60dc', { networkInterfaceId: 'eni-api' }),
          ],
          {
            loadBalancers: failed('DescribeLoadBalancers failed (AccessDenied)'),
          },
        ),
      );
      expect(exposure.exposure).toBe('internet');
      expect(exposure.attachments.map((a) => a.exposure)).toEqual(['internet', 'unknown']);
      expect(exposure.failures).toEqual(['DescribeLoadBalancers failed (AccessDenied)']);
    });
  });

  describe('the third read', () => {
    it('reads load balancers when an interface belongs to one its address does not decide', () => {
      expect(planThirdRead([albEni('web', '50dc'), instanceEni('i-0abc')], ok(tables()))).toEqual({
        kind: 'load-balancers',
        names: ['web'],
      });
    });

    it('reads instance names instead when the load balancers are reachable by their own addresses', () => {
      expect(
        planThirdRead(
          [albEni('web', '50dc', { publicIpv4: '3.1.1.1' }), instanceEni('i-0b'), instanceEni('i-0a')],
          ok(tables()),
        ),
      ).toEqual({ kind: 'instance-names', instanceIds: ['i-0a', 'i-0b'] });
    });

    it('reads nothing more for interfaces that are neither', () => {
      expect(planThirdRead([eni({ description: 'RDSNetworkInterface' })], ok(tables()))).toBeNull();
    });
  });

  describe('names from AWS', () => {
    it('keeps a Name tag to one line of at most 100 characters', () => {
      const exposure = classify(
        facts([instanceEni('i-0abc', { publicIp: '3.248.1.9' })], {
          instanceNames: ok({ 'i-0abc': 'web-1\n\u0007*urgent*\tfix' }),
        }),
      );
      expect(exposure.attachments[0]!.name).toBe('web-1 *urgent* fix');
      expect(exposure.reason).toBe(
        'reachable from the internet through i-0abc (web-1 *urgent* fix, 3.248.1.9)',
      );
      expect(cleanName('x'.repeat(300))).toBe(`${'x'.repeat(99)}…`);
      expect(cleanName(' \n ')).toBeNull();
    });
  });

  describe('labels', () => {
    it('names each kind of attachment the way an alert shows it', () => {
      const base = {
        publicIp: null,
        subnetId: null,
        routesToInternet: null,
        reason: '',
        networkInterfaceIds: [],
      };
      expect(
        attachmentLabel({
          ...base,
          type: 'instance',
          id: 'i-0abc',
          name: 'web-1',
          publicIp: '3.248.1.9',
          exposure: 'internet',
        }),
      ).toBe('i-0abc (web-1, 3.248.1.9)');
      expect(
        attachmentLabel({ ...base, type: 'instance', id: 'i-0abc', name: null, exposure: 'internal' }),
      ).toBe('i-0abc');
      expect(
        attachmentLabel({
          ...base,
          type: 'load-balancer',
          id: 'app/api/1',
          name: 'api',
          exposure: 'internal',
        }),
      ).toBe('load balancer api (internal)');
      expect(
        attachmentLabel({ ...base, type: 'lambda', id: 'eni-1', name: 'orders-api', exposure: 'internal' }),
      ).toBe('Lambda eni-1 (orders-api)');
      expect(attachmentLabel({ ...base, type: 'rds', id: 'eni-2', name: null, exposure: 'internal' })).toBe(
        'RDS eni-2',
      );
    });
  });
});
