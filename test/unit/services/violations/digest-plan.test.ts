import {
  BURST_THRESHOLD,
  digestCounts,
  fillDigest,
  groupBacklog,
  isBurst,
  visibleDeadline,
  type WaitingAlert,
  withVisibleDeadlines,
  worstFirst,
} from '../../../../services/violations/digest-plan';
import type { AlertItem, ViolationItem } from '../../../../services/violations/items';

const T0 = '2026-11-23T10:00:00.000Z';

function alert(id: string, arn: string, region = 'eu-west-1', createdAt = T0): AlertItem {
  return {
    pk: `ALERT#${id}`,
    sk: 'ALERT',
    type: 'alert',
    status: 'UNNOTIFIED',
    version: 1,
    alertId: id,
    eventId: id,
    eventName: 'AuthorizeSecurityGroupIngress',
    eventTime: createdAt,
    region,
    account: '111122223333',
    groupId: 'sg-1',
    groupName: null,
    actor: { arn, type: 'AssumedRole', roleArn: null, invokedBy: null, sourceIp: null, userAgent: null },
    violationIds: [],
    notifyAttempts: 0,
    createdAt,
  } as AlertItem;
}

function violation(id: string, severity: ViolationItem['severity'], overrides: Partial<ViolationItem> = {}) {
  return {
    violationId: id,
    severity,
    status: 'PENDING',
    eventTime: T0,
    createdAt: T0,
    deadline: '2026-11-23T10:15:00.000Z',
    ...overrides,
  } as ViolationItem;
}

const waiting = (a: AlertItem, ...vs: ViolationItem[]): WaitingAlert => ({ alert: a, violations: vs });

describe('digest plan', () => {
  describe('the burst rule, from Slack’s pace', () => {
    it('is a burst when more alerts wait than half of what Slack lets out in ten seconds', () => {
      expect(BURST_THRESHOLD).toBe(5);
      expect(isBurst(5)).toBe(false);
      expect(isBurst(6)).toBe(true);
    });
  });

  describe('groups', () => {
    it('groups the backlog by principal and region, the longest-waiting group first', () => {
      const groups = groupBacklog([
        waiting(alert('a1', 'arn:p1')),
        waiting(alert('a2', 'arn:p2')),
        waiting(alert('a3', 'arn:p1')),
        waiting(alert('a4', 'arn:p1', 'us-east-1')),
      ]);
      expect(groups.map((g) => [g.principal, g.region, g.alerts.map((w) => w.alert.alertId)])).toEqual([
        ['arn:p1', 'eu-west-1', ['a1', 'a3']],
        ['arn:p2', 'eu-west-1', ['a2']],
        ['arn:p1', 'us-east-1', ['a4']],
      ]);
    });
  });

  describe('filling a digest', () => {
    const group = {
      principal: 'arn:p1',
      region: 'eu-west-1',
      alerts: [
        waiting(alert('a1', 'arn:p1'), violation('v1', 'low'), violation('v2', 'medium')),
        waiting(alert('a2', 'arn:p1'), violation('v3', 'critical')),
        waiting(alert('a3', 'arn:p1'), violation('v4', 'high'), violation('v5', 'high')),
      ],
    };

    it('takes whole alerts, worst first, as far as they fit', () => {
      const { carried, alone } = fillDigest(group, (vs) => vs.length <= 3);
      expect(alone).toBeNull();
      expect(carried.map((w) => w.alert.alertId)).toEqual(['a2', 'a3']);
    });

    it('sends an alert too big for any digest on its own', () => {
      const { carried, alone } = fillDigest(group, (vs) => vs.length <= 0);
      expect(carried).toEqual([]);
      expect(alone?.alert.alertId).toBe('a2');
    });

    it('orders lines worst severity first, then by event time', () => {
      const later = '2026-11-23T10:01:00.000Z';
      expect(
        worstFirst([
          violation('a', 'low'),
          violation('b', 'high', { eventTime: later }),
          violation('c', 'critical'),
          violation('d', 'high'),
        ]).map((v) => v.violationId),
      ).toEqual(['c', 'd', 'b', 'a']);
    });
  });

  it('counts pending (claims in flight too), revoked, kept and the rest', () => {
    const statuses: ViolationItem['status'][] = [
      'PENDING',
      'REVOKING',
      'REVOKE_RETRY',
      'REVOKED',
      'AUTO_REVOKED',
      'KEPT',
      'GONE',
      'FAILED',
    ];
    expect(digestCounts(statuses.map((status) => ({ status })))).toEqual({
      pending: 3,
      revoked: 2,
      kept: 1,
      other: 2,
    });
  });

  describe('deadlines that respect visibility', () => {
    const v = violation('v', 'high');

    it('leaves the deadline when the post was within a minute of detection', () => {
      expect(visibleDeadline(v, '2026-11-23T10:01:00.000Z')).toBeNull();
    });

    it('counts the full time from the post when it was later', () => {
      expect(visibleDeadline(v, '2026-11-23T10:01:00.001Z')).toBe('2026-11-23T10:16:00.001Z');
      expect(withVisibleDeadlines([v], '2026-11-23T10:05:00.000Z')[0]!.deadline).toBe(
        '2026-11-23T10:20:00.000Z',
      );
    });

    it('moves nothing that is decided or has no deadline', () => {
      expect(visibleDeadline({ ...v, status: 'KEPT' }, '2026-11-23T11:00:00.000Z')).toBeNull();
      expect(visibleDeadline({ ...v, deadline: null }, '2026-11-23T11:00:00.000Z')).toBeNull();
    });
  });
});
