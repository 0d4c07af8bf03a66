import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  decodeJson,
  extractRecords,
  normaliseProtocol,
  parseCloudTrail,
  parseRecord,
  SECURITY_GROUP_EVENT_NAMES,
} from '../../../../services/detection/cloudtrail';
import { BadInputError } from '../../../../services/shared/errors';
import type { Actor, RuleFacts, SgEvent } from '../../../../services/shared/model';

const fixtures = join(__dirname, '..', '..', '..', 'fixtures');
const corpusDir = join(fixtures, 'corpus');
const ownDir = join(fixtures, 'cloudtrail');

function bytesOf(dir: string, name: string): Buffer {
  return readFileSync(join(dir, name));
}

function jsonOf(dir: string, name: string): Record<string, unknown> {
  return JSON.parse(bytesOf(dir, name).toString('utf8'));
}

/** Decodes a fixture file the way the CLI does and parses every event in it. */
function parseFile(dir: string, name: string): SgEvent[] {
  return parseCloudTrail(decodeJson(bytesOf(dir, name)));
}

function onlyEvent(dir: string, name: string): SgEvent {
  const events = parseFile(dir, name);
  expect(events).toHaveLength(1);
  return events[0]!;
}

/** An expected normalised rule: an ingress TCP rule from the internet unless overridden. */
function rule(overrides: Partial<RuleFacts> = {}): RuleFacts {
  return {
    groupId: 'sg-0123456789abcdef0',
    ruleId: null,
    direction: 'ingress',
    protocol: 'tcp',
    fromPort: 22,
    toPort: 22,
    source: '0.0.0.0/0',
    sourceKind: 'ipv4',
    description: null,
    ...overrides,
  };
}

/** An expected actor: an IAM user calling from the CLI unless overridden. */
function actor(overrides: Partial<Actor> = {}): Actor {
  return {
    arn: 'arn:aws:iam::111122223333:user/dave',
    type: 'IAMUser',
    roleArn: null,
    invokedBy: null,
    sourceIp: '192.0.2.44',
    userAgent: null,
    ...overrides,
  };
}

/** A raw record (the bare-record fixture) with top-level fields overridden, for edge cases. */
function record(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...jsonOf(ownDir, 'bare_authorize_sg_ingress_group_and_prefix_list_sources.json'), ...overrides };
}

/** An authorize record whose request carries exactly these permissions and whose response has no rule IDs. */
function authorizeWith(...permissions: Record<string, unknown>[]): Record<string, unknown> {
  return record({
    requestParameters: { groupId: 'sg-0123456789abcdef0', ipPermissions: { items: permissions } },
    responseElements: { requestId: 'req-1', _return: true },
  });
}

function permission(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ipProtocol: 'tcp',
    fromPort: 22,
    toPort: 22,
    groups: {},
    ipRanges: { items: [{ cidrIp: '0.0.0.0/0' }] },
    ipv6Ranges: {},
    prefixListIds: {},
    ...overrides,
  };
}

function expectBadInput(act: () => unknown, message: RegExp): void {
  let thrown: unknown;
  try {
    act();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(BadInputError);
  expect((thrown as BadInputError).code).toBe('BAD_INPUT');
  expect((thrown as BadInputError).message).toMatch(message);
}

describe('cloudtrail', () => {
  describe('the published corpus', () => {
    it('reads every corpus file without error and finds one event per successful call', () => {
      const names = readdirSync(corpusDir).filter((n) => n.endsWith('.json'));

      const counts = Object.fromEntries(names.map((n) => [n, parseFile(corpusDir, n).length]));

      expect(counts).toEqual({
        'elastic_integrations_authorize_sg_egress_assumedrole_ec2_instance_rulearn.json': 1,
        'elastic_integrations_authorize_sg_ingress_iamuser_grimoire_rulearn.json': 1,
        'nuvibit_eventbridge_authorize_sg_ingress_ipv4_assumedrole_sso.json': 1,
        'panther_manual_sg_change_authorize_sg_egress_all_protocols_with_description.json': 1,
        'panther_manual_sg_change_authorize_sg_ingress_error_unauthorized_panther_enriched.json': 0,
        'panther_manual_sg_change_create_security_group_terraform.json': 1,
        'stratus_detonation_authorize_sg_ingress_legacy_flat_params_loglicker.json': 1,
      });
    });

    it('normalises the EventBridge SSO event with its rule ID, region, account and actor', () => {
      const event = onlyEvent(
        corpusDir,
        'nuvibit_eventbridge_authorize_sg_ingress_ipv4_assumedrole_sso.json',
      );

      expect(event).toEqual({
        eventId: 'ed2b58c7-5b71-49d8-9f26-66b695f0e2a7',
        eventName: 'AuthorizeSecurityGroupIngress',
        eventTime: '2021-11-04T15:56:41Z',
        region: 'eu-west-1',
        account: '626708301729',
        actor: {
          arn: 'arn:aws:sts::626708301729:assumed-role/AWSReservedSSO_AdministratorAccess_1f51a532758ff888/michael.ullrich@nuvibit.com',
          type: 'AssumedRole',
          roleArn:
            'arn:aws:iam::626708301729:role/aws-reserved/sso.amazonaws.com/eu-central-1/AWSReservedSSO_AdministratorAccess_1f51a532758ff888',
          invokedBy: null,
          sourceIp: '194.230.147.5',
          userAgent: 'console.ec2.amazonaws.com',
        },
        kind: 'authorize',
        requestId: '233ec260-265b-40dc-918b-e3ced0e85977',
        groupId: 'sg-b0673be3',
        rules: [
          rule({ groupId: 'sg-b0673be3', ruleId: 'sgr-0c609e6f9cdaf10ea', fromPort: 0, toPort: 65535 }),
        ],
        ruleIds: ['sgr-0c609e6f9cdaf10ea'],
        needsLookup: false,
        lookupReason: null,
      });
    });

    it('reads the Elastic ingress record, one NDJSON line, as a bare record', () => {
      const event = onlyEvent(
        corpusDir,
        'elastic_integrations_authorize_sg_ingress_iamuser_grimoire_rulearn.json',
      );

      expect(event.rules).toEqual([
        rule({ groupId: 'sg-0f63fecfa17ef4fee', ruleId: 'sgr-027eb7c59241731e0', source: '203.0.113.0/24' }),
      ]);
      expect(event.actor.arn).toBe('arn:aws:iam::000000000:user/test@elastic.co');
      expect(event.actor.type).toBe('IAMUser');
      expect(event.actor.roleArn).toBeNull();
      expect(event.actor.sourceIp).toBe('216.160.83.56');
      expect(event.region).toBe('us-east-1');
      expect(event.account).toBe('000000000');
      expect(event.needsLookup).toBe(false);
    });

    it('marks the Elastic egress rule as egress from isEgress and keeps the instance role ARN', () => {
      const event = onlyEvent(
        corpusDir,
        'elastic_integrations_authorize_sg_egress_assumedrole_ec2_instance_rulearn.json',
      );

      expect(event.rules).toEqual([
        rule({
          groupId: 'sg-038ccc3a1f7b05f42',
          ruleId: 'sgr-02bdc373eac599585',
          direction: 'egress',
          fromPort: 4444,
          toPort: 4444,
          source: '73.21.4.36/32',
        }),
      ]);
      expect(event.actor.arn).toBe(
        'arn:aws:sts::000000000:assumed-role/ec2-instance-role/i-06815aa7cf7d21f8f',
      );
      expect(event.actor.roleArn).toBe('arn:aws:iam::000000000:role/ec2-instance-role');
    });

    it('takes rules from the request and asks for a lookup when an old record has no rule IDs', () => {
      const event = onlyEvent(
        corpusDir,
        'panther_manual_sg_change_authorize_sg_egress_all_protocols_with_description.json',
      );

      expect(event.rules).toEqual([
        rule({
          groupId: 'sg-03eee825d6bb78f54',
          direction: 'egress',
          protocol: 'all',
          fromPort: null,
          toPort: null,
          description:
            'Allow egress to the internet. Required for now until we land ECS/ECR endpoints in the VPC',
        }),
      ]);
      expect(event.ruleIds).toEqual([]);
      expect(event.needsLookup).toBe(true);
      expect(event.lookupReason).toMatch(/no security-group rule IDs/);
      expect(event.actor.roleArn).toBe('arn:aws:iam::112233445566:role/Operator');
    });

    it('ignores the failed call that carries an errorCode', () => {
      const events = parseFile(
        corpusDir,
        'panther_manual_sg_change_authorize_sg_ingress_error_unauthorized_panther_enriched.json',
      );

      expect(events).toEqual([]);
    });

    it('reads CreateSecurityGroup with the new group ID from the response and no rules', () => {
      const event = onlyEvent(corpusDir, 'panther_manual_sg_change_create_security_group_terraform.json');

      expect(event.kind).toBe('create-group');
      expect(event.groupId).toBe('sg-04d018d184a18f647');
      expect(event.rules).toEqual([]);
      expect(event.needsLookup).toBe(false);
      expect(event.actor.userAgent).toMatch(/Terraform/);
    });

    it('prefers the response rule set over the legacy flat request, keeping the /0 with host bits verbatim', () => {
      const event = onlyEvent(
        corpusDir,
        'stratus_detonation_authorize_sg_ingress_legacy_flat_params_loglicker.json',
      );

      expect(event.rules).toEqual([
        rule({
          groupId: 'sg-003dc7f1f1c686164',
          ruleId: 'sgr-09b3e3d2ca1edf2a2',
          source: '208.236.235.254/0',
        }),
      ]);
      expect(event.region).toBe('us-northeast-1r');
      expect(event.account).toBe('032092706103');
      expect(event.actor).toEqual(
        actor({
          arn: 'arn:aws:iam::032092706103:user/christophe',
          sourceIp: '253.243.215.253',
          userAgent: 'stratus-red-team_1004a4ff-b486-4981-a84b-6322905f37cc',
        }),
      );
      expect(event.needsLookup).toBe(false);
    });
  });

  describe('input shapes', () => {
    it('reads an EventBridge envelope with an IPv6 ::/0 ingress rule', () => {
      const event = onlyEvent(ownDir, 'eventbridge_authorize_sg_ingress_ipv6_world_ssh.json');

      expect(event.rules).toEqual([
        rule({
          groupId: 'sg-0a1b2c3d4e5f60718',
          ruleId: 'sgr-0ab12cd34ef56ab78',
          source: '::/0',
          sourceKind: 'ipv6',
          description: 'temporary ssh',
        }),
      ]);
      expect(event.region).toBe('eu-west-1');
      expect(event.account).toBe('111122223333');
      expect(event.actor.sourceIp).toBe('2001:db8:4006:812::200e');
      expect(event.eventId).toBe('8c1d6e2a-4b7f-4f0e-a1d2-9e3f4a5b6c70');
    });

    it('reads a bare record with a referenced security group and a prefix list as sources', () => {
      const event = onlyEvent(ownDir, 'bare_authorize_sg_ingress_group_and_prefix_list_sources.json');

      expect(event.rules).toEqual([
        rule({
          ruleId: 'sgr-0a0a0a0a0a0a0a0a1',
          fromPort: 8080,
          toPort: 8080,
          source: 'sg-0fedcba9876543210',
          sourceKind: 'security-group',
          description: 'from the ALB',
        }),
        rule({
          ruleId: 'sgr-0b0b0b0b0b0b0b0b2',
          fromPort: 443,
          toPort: 443,
          source: 'pl-0123abcd4567ef890',
          sourceKind: 'prefix-list',
          description: 'office ranges',
        }),
      ]);
      expect(event.ruleIds).toEqual(['sgr-0a0a0a0a0a0a0a0a1', 'sgr-0b0b0b0b0b0b0b0b2']);
      expect(event.actor).toEqual(
        actor({
          arn: 'arn:aws:iam::111122223333:user/ops-alice',
          sourceIp: '198.51.100.23',
          userAgent: expect.stringMatching(/^aws-cli\/2\.22\.4 /),
        }),
      );
    });

    it('reads the same sources from the request when the record has no rule IDs', () => {
      const raw = record({ responseElements: { requestId: 'req-1', _return: true } });

      const event = parseRecord(raw)!;

      expect(event.rules.map((r) => [r.source, r.sourceKind, r.ruleId])).toEqual([
        ['sg-0fedcba9876543210', 'security-group', null],
        ['pl-0123abcd4567ef890', 'prefix-list', null],
      ]);
      expect(event.needsLookup).toBe(true);
    });

    it('reads a JSON array of records, each with its own actor', () => {
      const events = parseFile(ownDir, 'array_authorize_sg_cloudformation_and_ci_deploy.json');

      expect(events.map((e) => e.eventId)).toEqual([
        'c3e5a7b9-2d4f-4a6c-8e0a-1b3d5f7a9c21',
        'd4f6b8c0-3e5a-4b7d-9f1b-2c4e6a8c0e32',
      ]);
      const [stack, pipeline] = events as [SgEvent, SgEvent];
      expect(stack.actor).toEqual({
        arn: 'arn:aws:sts::111122223333:assumed-role/PlatformEngineer/bob',
        type: 'AssumedRole',
        roleArn: 'arn:aws:iam::111122223333:role/PlatformEngineer',
        invokedBy: 'cloudformation.amazonaws.com',
        sourceIp: 'cloudformation.amazonaws.com',
        userAgent: 'cloudformation.amazonaws.com',
      });
      expect(stack.rules).toEqual([
        rule({
          groupId: 'sg-0c0ffee0c0ffee001',
          ruleId: 'sgr-0cf0000000000000a',
          fromPort: 443,
          toPort: 443,
        }),
        rule({
          groupId: 'sg-0c0ffee0c0ffee001',
          ruleId: 'sgr-0cf0000000000000b',
          fromPort: 443,
          toPort: 443,
          source: '::/0',
          sourceKind: 'ipv6',
        }),
      ]);
      expect(pipeline.actor.roleArn).toBe('arn:aws:iam::111122223333:role/payments-ci-deploy');
      expect(pipeline.rules).toEqual([
        rule({
          groupId: 'sg-0c0ffee0c0ffee002',
          ruleId: 'sgr-0cf0000000000000c',
          direction: 'egress',
          fromPort: 5432,
          toPort: 5432,
          source: '10.20.0.0/16',
          description: 'to the database subnet',
        }),
      ]);
    });

    it('reads an S3 log file, keeping only successful security-group changes', () => {
      const events = parseFile(ownDir, 's3_log_file_mixed_records.json');

      expect(events).toHaveLength(1);
      expect(events[0]!.eventId).toBe('f6b8d0e2-5a7c-4d9f-b1d3-4e6a8c0e2a54');
      expect(events[0]!.rules).toEqual([
        rule({
          groupId: 'sg-0d15ea5e0d15ea5e0',
          ruleId: 'sgr-0d00000000000000d',
          fromPort: 3389,
          toPort: 3389,
        }),
      ]);
      expect(events[0]!.region).toBe('us-west-2');
      expect(events[0]!.account).toBe('444455556666');
    });

    it('reads a gzipped S3 log file exactly as the plain one', () => {
      const plain = bytesOf(ownDir, 's3_log_file_mixed_records.json');

      const events = parseCloudTrail(decodeJson(gzipSync(plain)));

      expect(events).toEqual(parseCloudTrail(decodeJson(plain)));
      expect(events).toHaveLength(1);
    });

    it('reads `aws cloudtrail lookup-events` output by parsing each CloudTrailEvent string', () => {
      const events = parseFile(ownDir, 'lookup_events_output.json');

      expect(events.map((e) => [e.eventName, e.kind])).toEqual([
        ['RevokeSecurityGroupIngress', 'revoke'],
        ['AuthorizeSecurityGroupIngress', 'authorize'],
      ]);
      expect(events[0]!.ruleIds).toEqual(['sgr-0f0000000000000f1']);
      expect(events[1]!.rules).toEqual([
        rule({
          groupId: 'sg-0f00d0f00d0f00d01',
          ruleId: 'sgr-0f0000000000000f1',
          fromPort: 5432,
          toPort: 5432,
        }),
      ]);
      expect(events[1]!.actor.arn).toBe('arn:aws:iam::111122223333:user/frank');
    });

    it('reads NDJSON, one record per line', () => {
      const lines = [
        bytesOf(corpusDir, 'elastic_integrations_authorize_sg_ingress_iamuser_grimoire_rulearn.json'),
        bytesOf(corpusDir, 'elastic_integrations_authorize_sg_egress_assumedrole_ec2_instance_rulearn.json'),
      ]
        .map((b) => b.toString('utf8').trim())
        .join('\n');

      const events = parseCloudTrail(decodeJson(Buffer.from(`${lines}\n`)));

      expect(events.map((e) => e.rules[0]!.ruleId)).toEqual([
        'sgr-027eb7c59241731e0',
        'sgr-02bdc373eac599585',
      ]);
    });

    it('reads an array of S3 log files', () => {
      const file = jsonOf(ownDir, 's3_log_file_mixed_records.json');

      const events = parseCloudTrail([file, file]);

      expect(events).toHaveLength(2);
    });

    it('returns no events for an empty array or an empty log file', () => {
      expect(parseCloudTrail([])).toEqual([]);
      expect(parseCloudTrail({ Records: [] })).toEqual([]);
      expect(parseCloudTrail({ Events: [] })).toEqual([]);
    });
  });

  describe('event kinds', () => {
    it('reads ModifySecurityGroupRules with one PascalCase SecurityGroupRule object and asks for a lookup', () => {
      const event = onlyEvent(ownDir, 'modify_sg_rules_single_rule.json');

      expect(event).toMatchObject({
        kind: 'modify',
        eventName: 'ModifySecurityGroupRules',
        groupId: 'sg-0aaaabbbbccccdddd',
        ruleIds: ['sgr-0123abcd4567ef891'],
        rules: [],
        needsLookup: true,
        region: 'eu-central-1',
        requestId: '4e5f6a7b-8c9d-4e0f-1a2b-3c4d5e6f7a95',
      });
      expect(event.lookupReason).toMatch(/ModifySecurityGroupRules/);
    });

    it('reads ModifySecurityGroupRules with a list of SecurityGroupRule entries', () => {
      const event = onlyEvent(ownDir, 'modify_sg_rules_rule_list.json');

      expect(event.groupId).toBe('sg-0aaaabbbbccccdddd');
      expect(event.ruleIds).toEqual(['sgr-0123abcd4567ef892', 'sgr-0123abcd4567ef893']);
      expect(event.needsLookup).toBe(true);
    });

    it('reads ModifySecurityGroupRules whose request names no rule, leaving the lookup nothing to ask', () => {
      const raw = jsonOf(ownDir, 'modify_sg_rules_single_rule.json');

      const event = parseRecord({
        ...raw,
        requestParameters: { ModifySecurityGroupRulesRequest: { GroupId: 'sg-0aaaabbbbccccdddd' } },
      })!;

      expect(event.ruleIds).toEqual([]);
      expect(event.groupId).toBe('sg-0aaaabbbbccccdddd');
    });

    it('reads RevokeSecurityGroupIngress by rule IDs without asking for a lookup', () => {
      const event = onlyEvent(ownDir, 'revoke_sg_ingress_by_rule_ids.json');

      expect(event).toMatchObject({
        kind: 'revoke',
        groupId: 'sg-0aaaabbbbccccdddd',
        ruleIds: ['sgr-0123abcd4567ef891', 'sgr-0123abcd4567ef892'],
        rules: [],
        needsLookup: false,
        lookupReason: null,
      });
    });

    it('reads RevokeSecurityGroupEgress by permissions as the rules removed', () => {
      const event = onlyEvent(ownDir, 'revoke_sg_egress_by_permissions.json');

      expect(event.kind).toBe('revoke');
      expect(event.ruleIds).toEqual([]);
      expect(event.rules).toEqual([
        rule({
          groupId: 'sg-0aaaabbbbccccdddd',
          direction: 'egress',
          protocol: 'all',
          fromPort: null,
          toPort: null,
        }),
      ]);
      expect(event.needsLookup).toBe(false);
    });

    it('reads DeleteSecurityGroup with its group and nothing to evaluate', () => {
      const event = onlyEvent(ownDir, 'delete_security_group.json');

      expect(event).toMatchObject({
        kind: 'delete-group',
        groupId: 'sg-0aaaabbbbccccdddd',
        rules: [],
        ruleIds: [],
        needsLookup: false,
      });
      expect(event.actor).toEqual(
        actor({ userAgent: 'aws-cli/2.22.4 md/command#ec2.delete-security-group' }),
      );
    });

    it('ignores a failed call with an errorCode', () => {
      const events = parseFile(ownDir, 'authorize_sg_ingress_failed_duplicate.json');

      expect(events).toEqual([]);
    });

    it('lists exactly the event names the EventBridge rule must match', () => {
      expect([...SECURITY_GROUP_EVENT_NAMES].sort()).toEqual([
        'AuthorizeSecurityGroupEgress',
        'AuthorizeSecurityGroupIngress',
        'CreateManagedPrefixList',
        'CreateSecurityGroup',
        'CreateTags',
        'DeleteSecurityGroup',
        'DeleteTags',
        'ModifyManagedPrefixList',
        'ModifySecurityGroupRules',
        'RevokeSecurityGroupEgress',
        'RevokeSecurityGroupIngress',
        'UpdateSecurityGroupRuleDescriptionsEgress',
        'UpdateSecurityGroupRuleDescriptionsIngress',
      ]);
    });
  });

  describe('protocols, ports and legacy requests', () => {
    it('normalises protocol numbers, string ports and -1 ports from an old record', () => {
      const event = onlyEvent(ownDir, 'authorize_sg_ingress_protocol_numbers_no_rule_ids.json');

      const base = { groupId: 'sg-0badc0de0badc0de0' };
      expect(event.rules).toEqual([
        rule({ ...base, protocol: 'tcp', fromPort: 8443, toPort: 8443, description: 'admin console' }),
        rule({ ...base, protocol: 'udp', fromPort: 53, toPort: 53 }),
        rule({ ...base, protocol: 'icmp', fromPort: null, toPort: null }),
        rule({
          ...base,
          protocol: 'icmpv6',
          fromPort: 128,
          toPort: null,
          source: '::/0',
          sourceKind: 'ipv6',
        }),
        rule({ ...base, protocol: 'all', fromPort: null, toPort: null, source: '10.0.0.0/8' }),
        rule({ ...base, protocol: '47', fromPort: null, toPort: null }),
      ]);
      expect(event.needsLookup).toBe(true);
      expect(event.account).toBe('777788889999');
      expect(event.region).toBe('us-east-2');
      expect(event.actor.roleArn).toBe('arn:aws:iam::777788889999:role/NetworkAdmin');
    });

    it('reads a legacy flat request (cidrIp, ipProtocol, ports) when ipPermissions is empty', () => {
      const event = onlyEvent(ownDir, 'legacy_flat_params_rdp_no_rule_ids.json');

      expect(event.rules).toEqual([rule({ groupId: 'sg-0badc0de0badc0de0', fromPort: 3389, toPort: 3389 })]);
      expect(event.needsLookup).toBe(true);
    });

    it('reads a legacy flat grant to a source group by name as all traffic from that group', () => {
      const event = onlyEvent(ownDir, 'legacy_flat_params_source_group_name.json');

      expect(event.rules).toEqual([
        rule({
          groupId: 'sg-0badc0de0badc0de1',
          protocol: 'all',
          fromPort: null,
          toPort: null,
          source: 'default',
          sourceKind: 'security-group',
        }),
      ]);
      expect(event.needsLookup).toBe(true);
    });

    it('treats absent TCP ports as all ports', () => {
      const raw = authorizeWith(permission({ fromPort: undefined, toPort: undefined }));

      const [only] = parseRecord(raw)!.rules;

      expect(only).toMatchObject({ protocol: 'tcp', fromPort: null, toPort: null });
    });

    it('treats a -1 TCP port as all ports, on either end', () => {
      const raw = authorizeWith(permission({ fromPort: -1, toPort: 443 }));

      const [only] = parseRecord(raw)!.rules;

      expect(only).toMatchObject({ fromPort: null, toPort: null });
    });

    it('drops ports for all-protocol rules even when the record has them', () => {
      const raw = authorizeWith(permission({ ipProtocol: '-1', fromPort: 0, toPort: 65535 }));

      const [only] = parseRecord(raw)!.rules;

      expect(only).toMatchObject({ protocol: 'all', fromPort: null, toPort: null });
    });

    it('keeps 0-65535 as a real range', () => {
      const raw = authorizeWith(permission({ fromPort: '0', toPort: '65535' }));

      const [only] = parseRecord(raw)!.rules;

      expect(only).toMatchObject({ fromPort: 0, toPort: 65535 });
    });

    it('reads every source of one permission as its own rule', () => {
      const raw = authorizeWith(
        permission({
          ipRanges: { items: [{ cidrIp: '0.0.0.0/0' }, { cidrIp: '198.51.100.0/24' }] },
          ipv6Ranges: { items: [{ cidrIpv6: '::/0' }] },
          groups: { items: [{ groupId: 'sg-0fedcba9876543210', userId: '111122223333' }] },
          prefixListIds: { items: [{ prefixListId: 'pl-0123abcd4567ef890' }] },
        }),
      );

      const rules = parseRecord(raw)!.rules;

      expect(rules.map((r) => `${r.sourceKind}:${r.source}`)).toEqual([
        'ipv4:0.0.0.0/0',
        'ipv4:198.51.100.0/24',
        'ipv6:::/0',
        'security-group:sg-0fedcba9876543210',
        'prefix-list:pl-0123abcd4567ef890',
      ]);
    });

    it('accepts isEgress written as the string "true"', () => {
      const raw = record({
        responseElements: {
          securityGroupRuleSet: {
            items: [
              {
                groupId: 'sg-0123456789abcdef0',
                securityGroupRuleId: 'sgr-0e0e0e0e0e0e0e0e0',
                isEgress: 'true',
                ipProtocol: 'udp',
                fromPort: 123,
                toPort: 123,
                cidrIpv4: '0.0.0.0/0',
              },
            ],
          },
        },
      });

      const [only] = parseRecord(raw)!.rules;

      expect(only).toEqual(
        rule({
          ruleId: 'sgr-0e0e0e0e0e0e0e0e0',
          direction: 'egress',
          protocol: 'udp',
          fromPort: 123,
          toPort: 123,
        }),
      );
    });
  });

  describe('normaliseProtocol', () => {
    it.each([
      ['-1', 'all'],
      [-1, 'all'],
      ['6', 'tcp'],
      [6, 'tcp'],
      ['17', 'udp'],
      ['1', 'icmp'],
      ['58', 'icmpv6'],
      ['TCP', 'tcp'],
      [' udp ', 'udp'],
      ['ICMPv6', 'icmpv6'],
      ['all', 'all'],
      ['47', '47'],
      ['50', '50'],
      [undefined, 'all'],
      [null, 'all'],
      ['constructor', 'constructor'],
    ])('maps %p to %p', (input, expected) => {
      expect(normaliseProtocol(input)).toBe(expected);
    });
  });

  describe('parseRecord', () => {
    it('returns null for an API sg-warden does not read', () => {
      expect(parseRecord(record({ eventName: 'DescribeSecurityGroups' }))).toBeNull();
    });

    it('returns null for a security-group event name from another service', () => {
      expect(parseRecord(record({ eventSource: 'ssm.amazonaws.com' }))).toBeNull();
    });

    it('returns null for an event name that is an Object.prototype member', () => {
      expect(parseRecord(record({ eventName: 'constructor' }))).toBeNull();
      expect(parseRecord(record({ eventName: 'toString' }))).toBeNull();
    });

    it('returns null when errorCode is present, whatever the response says', () => {
      expect(parseRecord(record({ errorCode: 'Client.UnauthorizedOperation' }))).toBeNull();
    });

    it('uses the region hint when the record has no awsRegion, and "unknown" without either', () => {
      const raw = record({ awsRegion: undefined });

      expect(parseRecord(raw, 'ap-south-1')!.region).toBe('ap-south-1');
      expect(parseRecord(raw)!.region).toBe('unknown');
    });

    it("falls back to the caller's account when recipientAccountId is absent", () => {
      const raw = record({ recipientAccountId: undefined });

      expect(parseRecord(raw)!.account).toBe('111122223333');
    });

    it('names the actor by invokedBy, then principalId, when the record has no ARN', () => {
      const byService = record({
        userIdentity: { type: 'AWSService', invokedBy: 'elasticloadbalancing.amazonaws.com' },
      });
      const byPrincipal = record({ userIdentity: { type: 'Unknown', principalId: 'AIDAEXAMPLE' } });

      expect(parseRecord(byService)!.actor.arn).toBe('elasticloadbalancing.amazonaws.com');
      expect(parseRecord(byPrincipal)!.actor.arn).toBe('AIDAEXAMPLE');
      expect(parseRecord(record({ userIdentity: undefined }))!.actor).toEqual({
        arn: 'unknown',
        type: 'Unknown',
        roleArn: null,
        invokedBy: null,
        sourceIp: '198.51.100.23',
        userAgent: expect.any(String),
      });
    });

    it('takes the request ID from the response when requestID is absent', () => {
      const raw = record({ requestID: undefined });

      expect(parseRecord(raw)!.requestId).toBe('3e7c1a52-0a9b-4c3d-8e2f-5a6b7c8d9e01');
    });
  });

  describe('extractRecords', () => {
    it('returns the detail of an EventBridge envelope with its region as a hint', () => {
      const envelope = jsonOf(
        corpusDir,
        'nuvibit_eventbridge_authorize_sg_ingress_ipv4_assumedrole_sso.json',
      );

      const found = extractRecords(envelope);

      expect(found).toEqual([
        { record: envelope.detail, regionHint: 'eu-west-1', envelope: { account: '626708301729' } },
      ]);
    });

    it('returns bare records without a region hint', () => {
      const bare = record();

      expect(extractRecords([bare, bare])).toEqual([{ record: bare }, { record: bare }]);
    });

    it('throws BadInputError for JSON that is not CloudTrail', () => {
      expectBadInput(() => extractRecords({ hello: 'world' }), /not a CloudTrail event/);
      expectBadInput(() => extractRecords([{ hello: 'world' }]), /not a CloudTrail event/);
      expectBadInput(() => extractRecords('AuthorizeSecurityGroupIngress'), /not a CloudTrail event/);
      expectBadInput(() => extractRecords(42), /not a CloudTrail event/);
      expectBadInput(() => extractRecords(null), /not a CloudTrail event/);
    });

    it('throws BadInputError for an EventBridge event of another detail-type', () => {
      const stateChange = {
        version: '0',
        'detail-type': 'EC2 Instance State-change Notification',
        source: 'aws.ec2',
        region: 'us-east-1',
        detail: { 'instance-id': 'i-0abc123def4567890', state: 'running' },
      };

      expectBadInput(() => extractRecords(stateChange), /not a CloudTrail event/);
    });

    it('throws BadInputError for lookup-events output whose items lack a CloudTrailEvent string', () => {
      expectBadInput(
        () => extractRecords({ Events: [{ EventId: 'x', EventName: 'Foo' }] }),
        /CloudTrailEvent/,
      );
    });

    it('throws BadInputError for lookup-events output whose CloudTrailEvent is not JSON', () => {
      expectBadInput(
        () => extractRecords({ Events: [{ CloudTrailEvent: '{"eventName": ' }] }),
        /not valid JSON/,
      );
    });
  });

  describe('decodeJson', () => {
    it('decodes plain JSON bytes', () => {
      expect(decodeJson(Buffer.from('{"Records": []}'))).toEqual({ Records: [] });
    });

    it('decodes gzip-compressed JSON', () => {
      expect(decodeJson(gzipSync(Buffer.from('[1, 2]')))).toEqual([1, 2]);
    });

    it('decodes JSON that starts with a UTF-8 byte-order mark', () => {
      const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"Records": []}')]);

      expect(decodeJson(withBom)).toEqual({ Records: [] });
    });

    it('decodes NDJSON into an array, skipping blank lines', () => {
      expect(decodeJson(Buffer.from('{"a": 1}\n\n{"b": 2}\n'))).toEqual([{ a: 1 }, { b: 2 }]);
    });

    it('throws BadInputError for bytes that are not JSON', () => {
      expectBadInput(
        () => decodeJson(Buffer.from('eventName=AuthorizeSecurityGroupIngress')),
        /not valid JSON/,
      );
      expectBadInput(() => decodeJson(Buffer.from('')), /not valid JSON/);
      expectBadInput(() => decodeJson(Buffer.from('{"a": 1}\nnot json\n')), /not valid JSON/);
    });

    it('throws BadInputError for a corrupt gzip file', () => {
      const corrupt = Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from('definitely not deflate')]);

      expectBadInput(() => decodeJson(corrupt), /gzip/);
    });
  });
});
