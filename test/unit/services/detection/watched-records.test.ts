import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJson, parseCloudTrail } from '../../../../services/detection/cloudtrail';
import type { SgEvent } from '../../../../services/shared/model';

// The calls that can silence sg-warden without adding a rule, parsed from fixtures: the one published
// event the corpus has (CreateSecurityGroup) and records in the AWS documentation's shape for the rest
// (test/fixtures/cloudtrail/README.md says which is which).

const fixtures = join(__dirname, '..', '..', '..', 'fixtures');

function parse(dir: 'corpus' | 'cloudtrail', name: string): SgEvent[] {
  return parseCloudTrail(decodeJson(readFileSync(join(fixtures, dir, name))));
}

function only(dir: 'corpus' | 'cloudtrail', name: string): SgEvent {
  const events = parse(dir, name);
  expect(events).toHaveLength(1);
  return events[0]!;
}

describe('watched CloudTrail records', () => {
  describe('tags', () => {
    it('reads CreateTags as tags added to the security groups among its resources, the instance left out', () => {
      const event = only('cloudtrail', 'create_tags_security_group_and_instance.json');

      expect(event).toMatchObject({
        kind: 'tags-added',
        eventName: 'CreateTags',
        account: '111122223333',
        region: 'eu-west-1',
        groupId: null,
        rules: [],
        tagChange: {
          groupIds: ['sg-0aaaabbbbccccdddd', 'sg-0eeeeffff00001111'],
          tags: [
            { key: 'sg-warden:exempt', value: 'load test' },
            { key: 'team', value: 'payments' },
          ],
        },
      });
      expect(event.actor).toMatchObject({
        arn: 'arn:aws:sts::111122223333:assumed-role/developer/eve@example.com',
        roleArn: 'arn:aws:iam::111122223333:role/developer',
        sourceIp: '203.0.113.77',
      });
    });

    it('reads DeleteTags without a value as "whatever its value"', () => {
      const event = only('cloudtrail', 'delete_tags_security_group.json');

      expect(event).toMatchObject({
        kind: 'tags-removed',
        tagChange: { groupIds: ['sg-0aaaabbbbccccdddd'], tags: [{ key: 'sg-warden:exempt', value: null }] },
      });
    });

    it('ignores a CreateTags that failed (errorCode), like every failed call', () => {
      expect(parse('cloudtrail', 'create_tags_failed_unauthorized.json')).toEqual([]);
    });

    it('leaves a CreateTags on other resources with no group to look at', () => {
      const record = JSON.parse(
        readFileSync(join(fixtures, 'cloudtrail', 'create_tags_security_group_and_instance.json'), 'utf8'),
      );
      record.requestParameters.resourcesSet.items = [
        { resourceId: 'i-0123456789abcdef0' },
        { resourceId: 'sgr-0123abcd4567ef891' },
      ];

      expect(parseCloudTrail(record)[0]?.tagChange?.groupIds).toEqual([]);
    });
  });

  describe('managed prefix lists', () => {
    it('reads ModifyManagedPrefixList: the list and the entries it says it added', () => {
      const event = only('cloudtrail', 'modify_managed_prefix_list_add_world.json');

      expect(event).toMatchObject({
        kind: 'prefix-list',
        prefixList: { id: 'pl-0123456789abcdef0', added: ['0.0.0.0/0'] },
      });
      expect(event.actor.arn).toBe('arn:aws:iam::111122223333:user/mallory');
    });

    it('reads CreateManagedPrefixList, whose list ID is only in the response', () => {
      const event = only('cloudtrail', 'create_managed_prefix_list.json');

      expect(event.prefixList).toEqual({ id: 'pl-0fedcba9876543210', added: ['198.51.100.0/24', '::/0'] });
    });
  });

  describe('new groups and descriptions', () => {
    it('reads the published CreateSecurityGroup (Terraform) as a new group, with no tags to record', () => {
      const event = only('corpus', 'panther_manual_sg_change_create_security_group_terraform.json');

      expect(event).toMatchObject({ kind: 'create-group', groupId: 'sg-04d018d184a18f647', rules: [] });
      expect(event.tagChange).toBeUndefined();
    });

    it('reads the group tags a CreateSecurityGroup sets, and only the group’s', () => {
      const record = JSON.parse(
        readFileSync(
          join(fixtures, 'corpus', 'panther_manual_sg_change_create_security_group_terraform.json'),
          'utf8',
        ),
      );
      record.requestParameters.tagSpecificationSet = {
        items: [
          { resourceType: 'security-group', tags: [{ key: 'sg-warden:exempt', value: 'yes' }] },
          { resourceType: 'instance', tags: [{ key: 'Name', value: 'web' }] },
        ],
      };

      expect(parseCloudTrail(record)[0]?.tagChange).toEqual({
        groupIds: ['sg-04d018d184a18f647'],
        tags: [{ key: 'sg-warden:exempt', value: 'yes' }],
      });
    });

    it('reads a description update by rule ID as the rules to judge again in EC2', () => {
      const event = only('cloudtrail', 'update_sg_rule_descriptions_ingress_by_rule_id.json');

      expect(event).toMatchObject({
        kind: 'describe-rules',
        groupId: 'sg-0aaaabbbbccccdddd',
        ruleIds: ['sgr-0123abcd4567ef891'],
        rules: [],
        needsLookup: true,
      });
    });

    it('reads a description update in the IpPermissions form as rules matched by content', () => {
      const event = only('cloudtrail', 'update_sg_rule_descriptions_egress_by_permissions.json');

      expect(event.kind).toBe('describe-rules');
      expect(event.rules).toEqual([
        {
          groupId: 'sg-0aaaabbbbccccdddd',
          ruleId: null,
          direction: 'egress',
          protocol: 'all',
          fromPort: null,
          toPort: null,
          source: '0.0.0.0/0',
          sourceKind: 'ipv4',
          description: 'default egress',
        },
      ]);
    });
  });
});
