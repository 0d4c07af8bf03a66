import {
  atExpression,
  dueGrant,
  dueViolation,
  fireAt,
  itemOfScheduleName,
  planSchedule,
  revokeInput,
  scheduleName,
  universalTargetArn,
} from '../../../../services/backstop/plan';
import { parseConfig } from '../../../../services/config/config';
import type { GrantItem } from '../../../../services/grants/items';
import type { ViolationItem } from '../../../../services/violations/items';

const NOW = new Date('2026-11-23T10:00:00.000Z');

const violation = (over: Partial<ViolationItem> = {}): ViolationItem =>
  ({
    violationId: 'v-0123456789ab',
    account: '123456789012',
    region: 'eu-west-1',
    deadline: '2026-11-23T10:15:00.250Z',
    dryRun: false,
    action: 'alert',
    rule: {
      groupId: 'sg-0123456789abcdef0',
      ruleId: 'sgr-0123456789abcdef0',
      direction: 'ingress',
      protocol: 'tcp',
      fromPort: 22,
      toPort: 22,
      source: '0.0.0.0/0',
      sourceKind: 'ipv4',
      description: null,
    },
    ...over,
  }) as ViolationItem;

describe('backstop plan', () => {
  describe('which items get a schedule', () => {
    it('a violation the clock will revoke, by its rule ID', () => {
      expect(dueViolation(violation())).toEqual({
        kind: 'violation',
        id: 'v-0123456789ab',
        target: { account: '123456789012', region: 'eu-west-1' },
        groupId: 'sg-0123456789abcdef0',
        ruleId: 'sgr-0123456789abcdef0',
        direction: 'ingress',
        dueAt: '2026-11-23T10:15:00.250Z',
      });
    });

    it('never a dry run, a notify-only finding, one without a deadline or without a rule ID', () => {
      expect(dueViolation(violation({ dryRun: true }))).toBeNull();
      expect(dueViolation(violation({ action: 'notify' }))).toBeNull();
      expect(dueViolation(violation({ deadline: null }))).toBeNull();
      expect(dueViolation(violation({ rule: { ...violation().rule, ruleId: null } }))).toBeNull();
    });

    it('a grant once it has its rule, at its expiry or the one it is moving to', () => {
      const grant = {
        grantId: 'g-abc123def4',
        account: '123456789012',
        region: 'eu-west-1',
        groupId: 'sg-0123456789abcdef0',
        ruleId: 'sgr-0aaaaaaaaaaaaaaaa',
        expiresAt: '2026-11-23T11:00:00.000Z',
      } as GrantItem;
      expect(dueGrant(grant)?.dueAt).toBe('2026-11-23T11:00:00.000Z');
      expect(dueGrant(grant, '2026-11-23T12:00:00.000Z')?.dueAt).toBe('2026-11-23T12:00:00.000Z');
      expect(dueGrant({ ...grant, ruleId: undefined } as GrantItem)).toBeNull();
    });
  });

  describe('names', () => {
    it('are the same for the same item and stage, within Scheduler’s limits, and read back', () => {
      expect(scheduleName('prod', 'v-0123456789ab')).toBe('sgw-prod-v-0123456789ab');
      expect(scheduleName('my stage/x', 'g-abc')).toBe('sgw-my-stage-x-g-abc');
      expect(scheduleName('s'.repeat(80), 'g-abc').length).toBeLessThanOrEqual(64);
      expect(itemOfScheduleName('sgw-prod-v-0123456789ab')).toEqual({
        kind: 'violation',
        id: 'v-0123456789ab',
      });
      expect(itemOfScheduleName('sgw-my-stage-g-abc123')).toEqual({ kind: 'grant', id: 'g-abc123' });
      expect(itemOfScheduleName('someone-elses')).toBeNull();
    });
  });

  describe('when it fires', () => {
    it('at the due time plus the grace, up to the whole second', () => {
      expect(fireAt('2026-11-23T10:15:00.250Z', 120, NOW)).toBe('2026-11-23T10:17:01Z');
      expect(atExpression('2026-11-23T10:17:01Z')).toBe('at(2026-11-23T10:17:01)');
    });

    it('never sooner than a minute from now (a one-time schedule in the past never runs)', () => {
      expect(fireAt('2026-11-23T09:00:00.000Z', 120, NOW)).toBe('2026-11-23T10:01:00Z');
    });
  });

  describe('what it calls', () => {
    it("EC2's universal target for the rule's direction, with exactly the API's parameters", () => {
      expect(universalTargetArn('ingress')).toBe(
        'arn:aws:scheduler:::aws-sdk:ec2:revokeSecurityGroupIngress',
      );
      expect(universalTargetArn('egress', 'aws-us-gov')).toBe(
        'arn:aws-us-gov:scheduler:::aws-sdk:ec2:revokeSecurityGroupEgress',
      );
      const schedule = planSchedule(dueViolation(violation())!, 'prod', 120, NOW);
      expect(JSON.parse(revokeInput(schedule))).toEqual({
        GroupId: 'sg-0123456789abcdef0',
        SecurityGroupRuleIds: ['sgr-0123456789abcdef0'],
      });
    });
  });

  describe('config', () => {
    it('is on with a 2-minute grace unless told, and refuses a grace outside 1m–1h with the field named', () => {
      expect(parseConfig('slack:\n  alertChannel: C0A\n', 'f').backstop).toEqual({
        enabled: true,
        grace: 120,
      });
      expect(() => parseConfig('slack:\n  alertChannel: C0A\nbackstop:\n  grace: 10s\n', 'f')).toThrow(
        'f: backstop.grace: must be between 1m and 1h',
      );
    });
  });
});
