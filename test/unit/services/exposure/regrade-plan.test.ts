import type { ViolationExposure } from '../../../../services/exposure/grade';
import { subnetsServedBy, tablesRoutedTo } from '../../../../services/exposure/moved';
import {
  endsException,
  exposureMove,
  planPendingRegrade,
  type RegradeCause,
} from '../../../../services/exposure/regrade-plan';
import type { Finding } from '../../../../services/shared/model';
import type { ViolationItem } from '../../../../services/violations/items';
import { tables } from './fixtures';

const NOW = new Date('2026-11-23T10:02:00.000Z');
const CAUSE: RegradeCause = {
  eventId: 'ev-1',
  eventName: 'AssociateAddress',
  eventTime: '2026-11-23T10:01:58Z',
  actor: null,
  byName: 'alice',
  what: 'associated 3.248.1.9 with i-0abc',
};
const RULE = {
  groupId: 'sg-1',
  ruleId: 'sgr-1',
  direction: 'ingress' as const,
  protocol: 'tcp',
  fromPort: 22,
  toPort: 22,
  source: '0.0.0.0/0',
  sourceKind: 'ipv4' as const,
  description: null,
};

function exposure(cls: ViolationExposure['exposure']): ViolationExposure {
  return {
    exposure: cls,
    reason: `${cls} because`,
    attachments: [],
    attachmentCount: 0,
    failures: [],
    at: NOW.toISOString(),
  };
}

function pending(overrides: Partial<ViolationItem> = {}): ViolationItem {
  return {
    pk: 'VIOLATION#v-1',
    sk: 'VIOLATION',
    type: 'violation',
    status: 'PENDING',
    version: 3,
    violationId: 'v-1',
    alertId: 'a-1',
    eventId: 'e-1',
    region: 'eu-west-1',
    account: '123456789012',
    groupId: 'sg-1',
    groupName: null,
    rule: RULE,
    severity: 'medium',
    reasons: ['old'],
    action: 'alert',
    dryRun: false,
    actor: { arn: 'x', type: 'IAMUser', roleArn: null, invokedBy: null, sourceIp: null, userAgent: null },
    eventTime: NOW.toISOString(),
    createdAt: '2026-11-23T09:30:00.000Z',
    deadline: '2026-11-23T10:30:00.000Z',
    dueKind: 'DEADLINE',
    dueAt: '2026-11-23T10:30:00.000Z',
    revokeAttempts: 0,
    exposure: exposure('unattached'),
    ...overrides,
  } as ViolationItem;
}

const finding = (severity: Finding['severity'], timeoutSeconds: number | null, dryRun = false): Finding => ({
  rule: RULE,
  severity,
  reasons: ['new'],
  action: timeoutSeconds === null ? 'notify' : 'alert',
  timeoutSeconds,
  dryRun,
});

describe('re-grade plan (#20)', () => {
  describe('exposureMove', () => {
    it.each([
      ['unattached', 'internet', 'rose'],
      ['internal', 'internet', 'rose'],
      ['unattached', 'internal', 'rose'],
      [null, 'internet', 'rose'],
      ['unknown', 'internet', 'rose'],
      [null, 'internal', 'same'],
      ['internet', 'internet', 'same'],
      ['internet', 'internal', 'fell'],
      ['internal', 'unattached', 'fell'],
      ['internal', 'unknown', 'same'],
    ] as const)('%s → %s: %s', (before, now, move) => {
      expect(exposureMove(before, now)).toBe(move);
    });
  });

  describe('planPendingRegrade', () => {
    it('raises the severity and brings the deadline forward, at the version read', () => {
      const t = planPendingRegrade(
        pending(),
        { finding: finding('critical', 300), exposure: exposure('internet') },
        CAUSE,
        NOW,
      )!;
      expect(t).toMatchObject({
        from: ['PENDING'],
        to: 'PENDING',
        expectVersion: 3,
        due: { kind: 'DEADLINE', at: '2026-11-23T10:07:00.000Z' },
        set: {
          severity: 'critical',
          deadline: '2026-11-23T10:07:00.000Z',
          reasons: ['new'],
          exposureChange: { direction: 'rose', from: 'unattached', to: 'internet', by: 'alice' },
        },
      });
    });

    it('never lowers the severity, never moves the deadline later, never turns a revoke into a dry run', () => {
      const v = pending({ severity: 'critical', deadline: '2026-11-23T10:03:00.000Z' });
      const t = planPendingRegrade(
        v,
        { finding: finding('high', 900, true), exposure: exposure('internet') },
        CAUSE,
        NOW,
      )!;
      expect(t.set).toMatchObject({
        severity: 'critical',
        deadline: '2026-11-23T10:03:00.000Z',
        dryRun: false,
      });
    });

    it('only notes a fall: severity, deadline and due stay', () => {
      const v = pending({ severity: 'critical', exposure: exposure('internet') });
      const t = planPendingRegrade(
        v,
        { finding: finding('medium', 3600), exposure: exposure('unattached') },
        CAUSE,
        NOW,
      )!;
      expect(t.set).toEqual({
        exposureChange: expect.objectContaining({ direction: 'fell', to: 'unattached' }),
      });
      expect(t.due).toEqual({ kind: 'DEADLINE', at: v.dueAt });
    });

    it('writes nothing when the class did not move', () => {
      const v = pending({ exposure: exposure('internet') });
      expect(
        planPendingRegrade(
          v,
          { finding: finding('critical', 300), exposure: exposure('internet') },
          CAUSE,
          NOW,
        ),
      ).toBeNull();
    });
  });

  it('ends an exception only when the group is now internet and it was granted below', () => {
    expect(endsException('internal', 'internet')).toBe(true);
    expect(endsException(null, 'internet')).toBe(true);
    expect(endsException('internet', 'internet')).toBe(false);
    expect(endsException('unattached', 'internal')).toBe(false);
  });

  describe('which subnets a route change reaches', () => {
    it('a table’s own subnets; the main table’s: the whole VPC but the subnets on other tables', () => {
      const all = tables();
      const routed = tablesRoutedTo(all, 'igw-0abc');
      expect(routed.length).toBeGreaterThan(0);
      const main = all.find((t) => t.isMain)!;
      const served = subnetsServedBy([main], all);
      expect(served.wholeVpc).toBe(main.vpcId);
      expect(served.exceptSubnets).toEqual(
        all
          .filter((t) => t !== main)
          .flatMap((t) => t.subnetIds)
          .sort(),
      );
      const own = all.find((t) => !t.isMain)!;
      expect(subnetsServedBy([own], all)).toEqual({
        subnetIds: [...own.subnetIds].sort(),
        wholeVpc: null,
        exceptSubnets: [],
      });
    });
  });
});
