import { DisassociateRouteTableCommand, EC2Client } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { Ec2Network } from '../../../../services/aws/ec2-network';
import { parseConfig } from '../../../../services/config/config';
import { exposureContextLine } from '../../../../services/exposure/context';
import { ExposureLookup, lookUpExposure } from '../../../../services/exposure/lookup';
import { stepSeverity } from '../../../../services/exposure/severity';
import { ec2Client, uniqueName } from '../../../support/aws';
import { type AwsFaults, startFaultyAws } from '../../../support/aws-faults';
import {
  buildNetworkWorld,
  createAlbInWorld,
  createWorldGroup,
  launchInWorld,
  type NetworkWorld,
} from '../../../support/network-world';
import type { SlowProxy } from '../../../support/slow-proxy';

/**
 * Exposure against the AWS emulator: worlds built through the SDK (VPC, subnets, internet gateway, route
 * tables, instances, ELBv2 load balancers), read by the real adapter through a recording proxy that counts
 * the calls and can make one fail as AWS would.
 */

const REGION = 'us-east-1';
const TARGET = { account: '123456789012', region: REGION };
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
const config = parseConfig('slack:\n  alertChannel: C0TEST\n', 'sg-warden.yml');

let proxy: SlowProxy;
let faults: AwsFaults;
let reader: Ec2Network;
let world: NetworkWorld;

beforeAll(async () => {
  ({ proxy, faults } = await startFaultyAws());
  const options = { region: REGION, endpoint: proxy.url, credentials, maxAttempts: 1 };
  reader = new Ec2Network({
    ec2For: () => new EC2Client(options),
    elbFor: () => new ElasticLoadBalancingV2Client(options),
  });
  world = await buildNetworkWorld(REGION);
});

afterAll(async () => {
  await proxy.stop();
});

beforeEach(() => {
  faults.clear();
  proxy.reset();
});

/** The AWS calls the lookup made, as "service:Action". */
const calls = () => proxy.calls.map((c) => `${c.service}:${c.action}`);

describe('exposure against the emulator', () => {
  describe('instances', () => {
    it('is internet for an instance with a public IP in a subnet routed to an internet gateway, in three calls', async () => {
      const groupId = await createWorldGroup(world);
      const web = await launchInWorld(world, {
        subnetId: world.publicSubnets[0],
        groupIds: [groupId],
        name: 'web-1',
        publicIp: true,
      });
      expect(web.publicIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      proxy.reset();

      const exposure = await lookUpExposure(reader, TARGET, groupId);

      expect(exposure.exposure).toBe('internet');
      expect(exposure.reason).toBe(
        `reachable from the internet through ${web.instanceId} (web-1, ${web.publicIp})`,
      );
      expect(exposure.attachments).toEqual([
        {
          type: 'instance',
          id: web.instanceId,
          name: 'web-1',
          publicIp: web.publicIp,
          subnetId: world.publicSubnets[0],
          routesToInternet: true,
          exposure: 'internet',
          reason: `public address ${web.publicIp} in a subnet routed to ${world.internetGatewayId}`,
          networkInterfaceIds: [web.networkInterfaceId],
        },
      ]);
      expect(calls()).toEqual([
        'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeRouteTables',
        'ec2:DescribeTags',
      ]);
    });

    it('is internal for the same instance once its subnet no longer routes to the internet gateway', async () => {
      const own = await buildNetworkWorld(REGION);
      const groupId = await createWorldGroup(own);
      const subnetId = own.publicSubnets[0];
      const web = await launchInWorld(own, { subnetId, groupIds: [groupId], name: 'web-1', publicIp: true });
      expect((await lookUpExposure(reader, TARGET, groupId)).exposure).toBe('internet');

      // The subnet falls back to the VPC's main table: local routes only.
      await ec2Client(REGION).send(
        new DisassociateRouteTableCommand({ AssociationId: own.publicAssociations[subnetId]! }),
      );
      const exposure = await lookUpExposure(reader, TARGET, groupId);

      expect(exposure.exposure).toBe('internal');
      expect(exposure.attachments[0]).toMatchObject({
        id: web.instanceId,
        publicIp: web.publicIp,
        routesToInternet: false,
        exposure: 'internal',
        reason: `public address ${web.publicIp}, but subnet ${subnetId} has no route to an internet gateway`,
      });
    });

    it('is internal for an instance with no public address, in a routed subnet or not', async () => {
      const groupId = await createWorldGroup(world);
      await launchInWorld(world, {
        subnetId: world.publicSubnets[1],
        groupIds: [groupId],
        name: 'a',
        publicIp: false,
      });
      await launchInWorld(world, {
        subnetId: world.privateSubnets[0],
        groupIds: [groupId],
        name: 'b',
        publicIp: false,
      });
      const exposure = await lookUpExposure(reader, TARGET, groupId);
      expect(exposure.exposure).toBe('internal');
      expect(exposure.attachments.map((a) => [a.name, a.routesToInternet, a.reason])).toEqual(
        expect.arrayContaining([
          ['a', true, 'no public address'],
          ['b', false, 'no public address'],
        ]),
      );
    });

    it('is unattached for a group nothing uses, in one call', async () => {
      const groupId = await createWorldGroup(world);
      const exposure = await lookUpExposure(reader, TARGET, groupId);
      expect(exposure).toEqual({
        exposure: 'unattached',
        attachments: [],
        reason: 'no network interface uses this group now',
        failures: [],
      });
      expect(calls()).toEqual(['ec2:DescribeNetworkInterfaces']);
    });
  });

  describe('load balancers', () => {
    it('is internet for an internet-facing load balancer: its scheme, read from ELBv2, decides', async () => {
      const groupId = await createWorldGroup(world);
      const name = uniqueName('web');
      const alb = await createAlbInWorld(world, { name, scheme: 'internet-facing', groupIds: [groupId] });
      proxy.reset();

      const exposure = await lookUpExposure(reader, TARGET, groupId);

      expect(exposure.exposure).toBe('internet');
      expect(exposure.reason).toBe(
        `reachable from the internet through load balancer ${name} (internet-facing)`,
      );
      expect(exposure.attachments).toEqual([
        expect.objectContaining({
          type: 'load-balancer',
          id: alb.arnTail,
          name,
          reason: 'internet-facing load balancer',
          networkInterfaceIds: alb.networkInterfaceIds,
        }),
      ]);
      expect(calls()).toEqual([
        'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeRouteTables',
        'elasticloadbalancing:DescribeLoadBalancers',
      ]);
    });

    it('is internal for an internal load balancer', async () => {
      const groupId = await createWorldGroup(world);
      const name = uniqueName('api');
      await createAlbInWorld(world, { name, scheme: 'internal', groupIds: [groupId] });
      const exposure = await lookUpExposure(reader, TARGET, groupId);
      expect(exposure.exposure).toBe('internal');
      expect(exposure.attachments).toEqual([
        expect.objectContaining({
          type: 'load-balancer',
          name,
          exposure: 'internal',
          reason: 'internal load balancer',
        }),
      ]);
    });

    it('needs no ELBv2 call when the load balancer’s own public addresses decide', async () => {
      const groupId = await createWorldGroup(world);
      const alb = await createAlbInWorld(world, {
        name: uniqueName('pub'),
        scheme: 'internet-facing',
        groupIds: [groupId],
        elasticIp: true,
      });
      proxy.reset();
      const exposure = await lookUpExposure(reader, TARGET, groupId);
      expect(exposure.exposure).toBe('internet');
      expect(exposure.attachments[0]!.reason).toBe(
        `Elastic IP ${alb.publicIps[0]} in a subnet routed to ${world.internetGatewayId}`,
      );
      expect(calls()).toEqual(['ec2:DescribeNetworkInterfaces', 'ec2:DescribeRouteTables']);
    });
  });

  describe('several interfaces of mixed classes', () => {
    it('is internet, lists the most exposed first, and the alert line names three and counts the rest', async () => {
      const groupId = await createWorldGroup(world);
      const internalLb = uniqueName('int');
      await createAlbInWorld(world, { name: internalLb, scheme: 'internal', groupIds: [groupId] });
      const web = await launchInWorld(world, {
        subnetId: world.publicSubnets[0],
        groupIds: [groupId],
        name: 'web-1',
        publicIp: true,
      });
      const db = await launchInWorld(world, {
        subnetId: world.privateSubnets[0],
        groupIds: [groupId],
        name: 'db-1',
        publicIp: false,
      });
      const batch = await launchInWorld(world, {
        subnetId: world.privateSubnets[1],
        groupIds: [groupId],
        name: 'batch-1',
        publicIp: true,
      });
      proxy.reset();

      const exposure = await lookUpExposure(reader, TARGET, groupId);

      expect(exposure.exposure).toBe('internet');
      expect(exposure.attachments.map((a) => [a.type, a.exposure])).toEqual([
        ['instance', 'internet'],
        ['load-balancer', 'internal'],
        ['instance', 'internal'],
        ['instance', 'internal'],
      ]);
      expect(exposure.attachments[0]!.id).toBe(web.instanceId);
      expect(exposure.attachments.map((a) => a.id)).toEqual(
        expect.arrayContaining([db.instanceId, batch.instanceId]),
      );
      // The internal load balancer took the third call: its scheme decides a class, names only a label.
      expect(calls()).toEqual([
        'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeRouteTables',
        'elasticloadbalancing:DescribeLoadBalancers',
      ]);
      expect(exposure.reason).toBe(`reachable from the internet through ${web.instanceId} (${web.publicIp})`);
      const step = stepSeverity('high', exposure, config.policy);
      expect(exposureContextLine(exposure, step)).toBe(
        `Exposure: internet · ${web.instanceId} (${web.publicIp}), load balancer ${internalLb} (internal), ` +
          `${exposure.attachments[2]!.id}${exposure.attachments[2]!.publicIp ? ` (${exposure.attachments[2]!.publicIp})` : ''} and 1 more · high → critical`,
      );
    });
  });

  describe('failed lookups', () => {
    it('is unknown when the route tables cannot be read, and the severity stays as the rules gave it', async () => {
      const groupId = await createWorldGroup(world);
      await launchInWorld(world, {
        subnetId: world.publicSubnets[0],
        groupIds: [groupId],
        name: 'w',
        publicIp: true,
      });
      faults.add({
        service: 'ec2',
        action: 'DescribeRouteTables',
        times: 1,
        error: {
          code: 'UnauthorizedOperation',
          status: 403,
          message: 'You are not authorized. Encoded message: xyz',
        },
      });

      const exposure = await lookUpExposure(reader, TARGET, groupId);

      expect(exposure.exposure).toBe('unknown');
      expect(exposure.failures).toEqual(['DescribeRouteTables failed (UnauthorizedOperation)']);
      expect(exposure.reason).not.toContain('Encoded message');
      expect(stepSeverity('high', exposure, config.policy)).toMatchObject({
        from: 'high',
        severity: 'high',
        change: 'kept',
        timeoutSeconds: 900,
      });
    });

    it('is unknown when the interfaces cannot be read, and unknown never lowers even where unattached would', async () => {
      const groupId = await createWorldGroup(world);
      faults.add({
        service: 'ec2',
        action: 'DescribeNetworkInterfaces',
        times: 1,
        error: { code: 'RequestLimitExceeded', status: 503 },
      });
      const exposure = await lookUpExposure(reader, TARGET, groupId);
      expect(exposure).toMatchObject({
        exposure: 'unknown',
        attachments: [],
        failures: ['DescribeNetworkInterfaces failed (RequestLimitExceeded)'],
      });
      expect(stepSeverity('medium', exposure, config.policy).severity).toBe('medium');
      expect(calls()).toEqual(['ec2:DescribeNetworkInterfaces']);
    });

    it('leaves a load balancer unknown when ELBv2 refuses, instead of calling it internal', async () => {
      const groupId = await createWorldGroup(world);
      await createAlbInWorld(world, {
        name: uniqueName('deny'),
        scheme: 'internet-facing',
        groupIds: [groupId],
      });
      faults.add({
        service: 'elasticloadbalancing',
        action: 'DescribeLoadBalancers',
        times: 1,
        error: { code: 'AccessDenied', status: 403 },
      });
      const exposure = await lookUpExposure(reader, TARGET, groupId);
      expect(exposure.exposure).toBe('unknown');
      expect(exposure.failures).toEqual(['DescribeLoadBalancers failed (AccessDenied)']);
      expect(exposure.attachments[0]!.reason).toBe(
        'no public address, and its scheme could not be read: DescribeLoadBalancers failed (AccessDenied)',
      );
    });
  });

  describe('severity as configured, from a real lookup', () => {
    it('raises internet to critical with critical’s deadline, lowers unattached to medium with medium’s, as the config says', async () => {
      const exposed = await createWorldGroup(world);
      const web = await launchInWorld(world, {
        subnetId: world.publicSubnets[0],
        groupIds: [exposed],
        name: 'web-2',
        publicIp: true,
      });
      const unused = await createWorldGroup(world);
      const lookup = new ExposureLookup({ reader });

      const internet = stepSeverity('high', await lookup.exposureOf(TARGET, exposed), config.policy);
      expect(internet).toEqual({
        from: 'high',
        severity: 'critical',
        change: 'raised',
        exposure: 'internet',
        timeoutSeconds: 300,
        reasons: [
          `reachable from the internet through ${web.instanceId} (web-2, ${web.publicIp})`,
          'severity raised from high to critical (policy.exposure.internet: raise)',
        ],
      });
      const unattached = stepSeverity('high', await lookup.exposureOf(TARGET, unused), config.policy);
      expect(unattached).toMatchObject({ severity: 'medium', change: 'lowered', timeoutSeconds: 3600 });
      expect(unattached.reasons[0]).toBe('no network interface uses this group now');

      const custom = parseConfig(
        [
          'slack:',
          '  alertChannel: C0TEST',
          'policy:',
          '  timeouts: { critical: 2m, high: 10m, medium: 30m, low: 2h }',
          '  exposure: { internet: keep, unattached: keep }',
        ].join('\n'),
        'custom.yml',
      );
      proxy.reset();
      expect(stepSeverity('high', await lookup.exposureOf(TARGET, exposed), custom.policy)).toMatchObject({
        severity: 'high',
        timeoutSeconds: 600,
      });
      expect(stepSeverity('low', await lookup.exposureOf(TARGET, unused), custom.policy)).toMatchObject({
        severity: 'low',
        timeoutSeconds: 7200,
      });
      // Asked again in the same invocation: answered from the cache, no call to AWS.
      expect(calls()).toEqual([]);
    });
  });
});
