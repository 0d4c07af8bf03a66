import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { matchesPattern } from '../../../../local/cloudtrail-records';
import { parseConfig } from '../../../../services/config/config';
import { detectionEventNames, detectionEventPattern } from '../../../../services/deploy/event-pattern';
import {
  decodeJson,
  parseCloudTrail,
  SECURITY_GROUP_EVENT_NAMES,
} from '../../../../services/detection/cloudtrail';
import {
  EXPOSURE_EVENT_NAMES,
  type ExposureChangeEvent,
  parseExposureChanges,
} from '../../../../services/detection/exposure-events';

const policyDefaults = () => parseConfig('slack:\n  alertChannel: C0TEST\n', 'sg-warden.yml').policy;

/** The fixtures are built from AWS's documentation (no published event was found): see their README. */
const dir = join(__dirname, '..', '..', '..', 'fixtures', 'cloudtrail', 'exposure');
const read = (name: string) => decodeJson(readFileSync(join(dir, name)));

function only(name: string): ExposureChangeEvent {
  const events = parseExposureChanges(read(name));
  expect(events).toHaveLength(1);
  return events[0]!;
}

describe('exposure-change events (#20)', () => {
  describe('what each call names', () => {
    it('reads AssociateAddress from an EventBridge envelope: the instance, the address, who and when', () => {
      const e = only('associate_address_instance.json');
      expect(e).toMatchObject({
        eventName: 'AssociateAddress',
        eventSource: 'ec2.amazonaws.com',
        account: '111122223333',
        region: 'eu-west-1',
        eventTime: '2026-11-03T10:02:11Z',
        changed: { kind: 'interfaces', networkInterfaceIds: [], instanceIds: ['i-0abc1234def567890'] },
        what: 'associated eipalloc-0a1b2c3d4e5f60718 with i-0abc1234def567890',
      });
      expect(e.actor.arn).toBe('arn:aws:sts::111122223333:assumed-role/Admin/alice');
      expect(e.mismatch).toBeUndefined();
    });

    it.each([
      [
        'modify_network_interface_attribute_groups.json',
        { kind: 'interfaces', networkInterfaceIds: ['eni-0a1b2c3d4e5f60718'], instanceIds: [] },
        'put eni-0a1b2c3d4e5f60718 in sg-0123456789abcdef0, sg-0fedcba9876543210',
      ],
      [
        'modify_instance_attribute_group_set.json',
        { kind: 'interfaces', networkInterfaceIds: [], instanceIds: ['i-0abc1234def567890'] },
        'put i-0abc1234def567890 in sg-0123456789abcdef0',
      ],
      [
        'run_instances_three.json',
        {
          kind: 'interfaces',
          networkInterfaceIds: [],
          instanceIds: ['i-0abc1234def567890', 'i-0abc1234def567891', 'i-0abc1234def567892'],
        },
        'launched 3 instances (i-0abc1234def567890, i-0abc1234def567891 and 1 more)',
      ],
      [
        'create_network_interface.json',
        { kind: 'interfaces', networkInterfaceIds: ['eni-0fedcba9876543210'], instanceIds: [] },
        'created eni-0fedcba9876543210',
      ],
      [
        'attach_network_interface.json',
        { kind: 'interfaces', networkInterfaceIds: ['eni-0fedcba9876543210'], instanceIds: [] },
        'attached eni-0fedcba9876543210 to i-0abc1234def567890',
      ],
      [
        'assign_ipv6_addresses.json',
        { kind: 'interfaces', networkInterfaceIds: ['eni-0a1b2c3d4e5f60718'], instanceIds: [] },
        'assigned IPv6 addresses to eni-0a1b2c3d4e5f60718',
      ],
      [
        'modify_subnet_attribute_map_public_ip.json',
        { kind: 'subnets', subnetIds: ['subnet-0a1b2c3d4e5f60718'] },
        'turned on public IPv4 addresses at launch in subnet-0a1b2c3d4e5f60718',
      ],
      [
        'create_route_igw.json',
        { kind: 'route-table', routeTableId: 'rtb-0a1b2c3d4e5f60718' },
        'routed 0.0.0.0/0 in rtb-0a1b2c3d4e5f60718 to igw-0a1b2c3d4e5f60718',
      ],
      [
        'replace_route_igw_ipv6.json',
        { kind: 'route-table', routeTableId: 'rtb-0a1b2c3d4e5f60718' },
        'routed ::/0 in rtb-0a1b2c3d4e5f60718 to igw-0a1b2c3d4e5f60718',
      ],
      [
        'attach_internet_gateway.json',
        {
          kind: 'internet-gateway',
          internetGatewayId: 'igw-0a1b2c3d4e5f60718',
          vpcId: 'vpc-0a1b2c3d4e5f60718',
        },
        'attached igw-0a1b2c3d4e5f60718 to vpc-0a1b2c3d4e5f60718',
      ],
      [
        'associate_route_table.json',
        { kind: 'route-table', routeTableId: 'rtb-0a1b2c3d4e5f60718', subnetId: 'subnet-0fedcba9876543210' },
        'associated rtb-0a1b2c3d4e5f60718 with subnet-0fedcba9876543210',
      ],
      [
        'replace_route_table_association.json',
        { kind: 'route-table', routeTableId: 'rtb-0fedcba9876543210' },
        'replaced the route table of association rtbassoc-0123456789abcdef0 with rtb-0fedcba9876543210',
      ],
      [
        'elbv2_create_load_balancer_internet_facing.json',
        {
          kind: 'load-balancer',
          name: 'web',
          arn: 'arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/web/50dc6c495c0c9188',
          groupIds: ['sg-0123456789abcdef0'],
        },
        'created internet-facing load balancer web',
      ],
      [
        'elbv2_set_security_groups.json',
        {
          kind: 'load-balancer',
          name: 'web',
          arn: 'arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/web/50dc6c495c0c9188',
          groupIds: ['sg-0123456789abcdef0', 'sg-0fedcba9876543210'],
        },
        'set the groups of load balancer web to sg-0123456789abcdef0, sg-0fedcba9876543210',
      ],
      [
        'rds_modify_db_instance_public.json',
        { kind: 'database', dbInstanceId: 'orders-db', groupIds: ['sg-0123456789abcdef0'] },
        'modified database orders-db: made it publicly accessible',
      ],
      [
        'rds_create_db_instance.json',
        { kind: 'database', dbInstanceId: 'reports-db', groupIds: ['sg-0fedcba9876543210'] },
        'created database reports-db (publicly accessible)',
      ],
    ])('%s names what it changed and says what was done', (file, changed, what) => {
      const e = only(file);
      expect(e.changed).toEqual(changed);
      expect(e.what).toBe(what);
    });
  });

  describe('calls that cannot change exposure, and failed ones', () => {
    it.each([
      'associate_address_failed.json',
      'modify_network_interface_attribute_source_dest_check.json',
      'modify_subnet_attribute_map_public_ip_off.json',
      'create_route_nat_gateway.json',
      'elbv2_create_load_balancer_internal.json',
      'rds_modify_db_instance_storage.json',
    ])('ignores %s', (file) => {
      expect(parseExposureChanges(read(file))).toEqual([]);
    });

    it('leaves them out of the security-group parser, and the security-group events out of this one', () => {
      expect(parseCloudTrail(read('associate_address_instance.json'))).toEqual([]);
      const sgEvent = decodeJson(
        readFileSync(join(dir, '..', 'eventbridge_authorize_sg_ingress_ipv6_world_ssh.json')),
      );
      expect(parseExposureChanges(sgEvent)).toEqual([]);
    });

    it('takes a call only from the service that records it (RunInstances is EC2’s, not RDS’s)', () => {
      const record = read('run_instances_three.json') as Record<string, unknown>;
      expect(parseExposureChanges({ ...record, eventSource: 'rds.amazonaws.com' })).toEqual([]);
    });

    it('marks a record whose region contradicts its EventBridge envelope', () => {
      const event = read('associate_address_instance.json') as Record<string, unknown>;
      const [e] = parseExposureChanges({ ...event, region: 'us-east-1' });
      expect(e!.mismatch).toBe('the event says region us-east-1, its CloudTrail record eu-west-1');
    });
  });

  describe('the EventBridge pattern', () => {
    it('matches the security-group calls and, with policy.exposure on, every exposure change by its service', () => {
      const on = detectionEventPattern({ policy: policyDefaults() });
      const branches = on.$or as {
        source: string[];
        detail: { eventSource: string[]; eventName: string[] };
      }[];
      expect(branches.map((b) => b.source)).toEqual([['aws.ec2'], ['aws.elasticloadbalancing'], ['aws.rds']]);
      for (const [eventSource, list] of Object.entries(EXPOSURE_EVENT_NAMES)) {
        const branch = branches.find((b) => b.detail.eventSource[0] === eventSource)!;
        for (const n of list) expect(branch.detail.eventName).toContain(n);
      }
      // The security-group calls (the watched ones included: #13) come first, as the parser lists them.
      expect(branches[0]!.detail.eventName.slice(0, SECURITY_GROUP_EVENT_NAMES.length)).toEqual([
        ...SECURITY_GROUP_EVENT_NAMES,
      ]);
      // An EC2 call's name under another service's source does not match.
      const event = (source: string, eventSource: string, eventName: string) => ({
        source,
        'detail-type': 'AWS API Call via CloudTrail',
        detail: { eventSource, eventName },
      });
      expect(matchesPattern(on, event('aws.ec2', 'ec2.amazonaws.com', 'AssociateAddress'))).toBe(true);
      expect(matchesPattern(on, event('aws.rds', 'rds.amazonaws.com', 'ModifyDBInstance'))).toBe(true);
      expect(matchesPattern(on, event('aws.rds', 'ec2.amazonaws.com', 'AssociateAddress'))).toBe(false);
      expect(matchesPattern(on, event('aws.rds', 'rds.amazonaws.com', 'RunInstances'))).toBe(false);
    });

    it('matches only the security-group calls with policy.exposure off', () => {
      const policy = policyDefaults();
      const off = { policy: { ...policy, exposure: { ...policy.exposure, enabled: false } } };
      expect(detectionEventNames(off)).toEqual({
        'ec2.amazonaws.com': [
          'AuthorizeSecurityGroupIngress',
          'AuthorizeSecurityGroupEgress',
          'ModifySecurityGroupRules',
          'RevokeSecurityGroupIngress',
          'RevokeSecurityGroupEgress',
          'CreateSecurityGroup',
          'DeleteSecurityGroup',
          'UpdateSecurityGroupRuleDescriptionsIngress',
          'UpdateSecurityGroupRuleDescriptionsEgress',
          'CreateTags',
          'DeleteTags',
          'CreateManagedPrefixList',
          'ModifyManagedPrefixList',
        ],
      });
      expect(detectionEventPattern(off).source).toEqual(['aws.ec2']);
    });
  });
});
