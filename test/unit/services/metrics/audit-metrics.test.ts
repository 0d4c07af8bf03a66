import { type AuditEntry, auditEntry, SYSTEM_ACTOR, TIMEOUT_ACTOR } from '../../../../services/kernel/audit';
import { recordAudit } from '../../../../services/metrics/audit-metrics';
import type { MetricDimensions, MetricName, Metrics } from '../../../../services/shared/metrics';

const PERSON = { type: 'slack-user' as const, id: 'U0ALICE', name: 'alice' };
const AT = '2026-11-23T10:20:00.000Z';

function recorder(): Metrics & { points: [MetricName, number, MetricDimensions?][] } {
  const points: [MetricName, number, MetricDimensions?][] = [];
  return {
    points,
    add: (name, value, dimensions) => points.push(dimensions ? [name, value, dimensions] : [name, value]),
    flush: () => {},
  };
}

function entry(
  subjectType: AuditEntry['subjectType'],
  fromState: string | null,
  toState: string,
  fields: Partial<AuditEntry> = {},
  by = SYSTEM_ACTOR,
): AuditEntry {
  return auditEntry({ id: 'x', type: subjectType }, by, {
    action: 'test',
    fromState,
    toState,
    result: 'ok',
    at: AT,
    ...fields,
  });
}

describe('metrics from audit entries', () => {
  describe('violations', () => {
    it('counts a detected violation by severity and how it was found', () => {
      const m = recorder();
      recordAudit(
        m,
        entry('violation', null, 'PENDING', { action: 'detect', details: { severity: 'high' } }),
      );
      recordAudit(m, entry('violation', null, 'PENDING', { action: 'reopen', details: { severity: 'low' } }));
      recordAudit(
        m,
        entry('violation', null, 'PENDING', {
          action: 'detect',
          details: { severity: 'critical', foundBy: 'scan' },
        }),
      );
      expect(m.points).toEqual([
        ['ViolationsRaised', 1, { severity: 'high', foundBy: 'event' }],
        ['ViolationsRaised', 1, { severity: 'low', foundBy: 'reopen' }],
        ['ViolationsRaised', 1, { severity: 'critical', foundBy: 'scan' }],
      ]);
    });

    it('counts decisions by outcome and actor type, with the time from the alert for revoke, auto-revoke and keep', () => {
      const m = recorder();
      const item = { createdAt: '2026-11-23T10:00:00.000Z' };
      recordAudit(m, entry('violation', 'REVOKING', 'AUTO_REVOKED', {}, TIMEOUT_ACTOR), item);
      recordAudit(m, entry('violation', 'PENDING', 'KEPT', {}, PERSON), item);
      recordAudit(m, entry('violation', 'REVOKING', 'GONE', {}, PERSON), item);
      expect(m.points).toEqual([
        ['Decisions', 1, { outcome: 'AUTO_REVOKED', actorType: 'timeout' }],
        ['AutoRevokes', 1],
        ['DecisionTime', 1200, { outcome: 'AUTO_REVOKED' }],
        ['Decisions', 1, { outcome: 'KEPT', actorType: 'slack-user' }],
        ['DecisionTime', 1200, { outcome: 'KEPT' }],
        ['Decisions', 1, { outcome: 'GONE', actorType: 'slack-user' }],
      ]);
    });

    it('counts a revoke that failed for good (an error result), but not a retry or a refused click', () => {
      const m = recorder();
      recordAudit(m, entry('violation', 'REVOKING', 'REVOKE_RETRY', { result: 'error' }, PERSON));
      recordAudit(m, entry('violation', 'PENDING', 'PENDING', { result: 'refused' }, PERSON));
      recordAudit(m, entry('violation', 'REVOKING', 'FAILED', { result: 'error' }, PERSON));
      expect(m.points).toEqual([
        ['Decisions', 1, { outcome: 'FAILED', actorType: 'slack-user' }],
        ['RevokeFailures', 1],
      ]);
    });

    it('leaves the decision time out when the item is not known', () => {
      const m = recorder();
      recordAudit(m, entry('violation', 'REVOKING', 'REVOKED', {}, PERSON));
      expect(m.points).toEqual([['Decisions', 1, { outcome: 'REVOKED', actorType: 'slack-user' }]]);
    });
  });

  describe('grants and runs', () => {
    it('counts grants entering ACTIVE, EXPIRED, FAILED and REVOKE_FAILED, not an extension', () => {
      const m = recorder();
      recordAudit(m, entry('grant', 'PENDING', 'ACTIVE'));
      recordAudit(m, entry('grant', 'ACTIVE', 'ACTIVE'));
      recordAudit(m, entry('grant', 'REVOKING', 'EXPIRED', {}, TIMEOUT_ACTOR));
      recordAudit(m, entry('grant', 'PENDING', 'FAILED', { result: 'error' }));
      recordAudit(m, entry('grant', 'REVOKING', 'REVOKE_FAILED', { result: 'error' }));
      expect(m.points).toEqual([
        ['Grants', 1, { outcome: 'ACTIVE' }],
        ['Grants', 1, { outcome: 'EXPIRED' }],
        ['Grants', 1, { outcome: 'FAILED' }],
        ['Grants', 1, { outcome: 'REVOKE_FAILED' }],
        ['RevokeFailures', 1],
      ]);
    });

    it('counts runs by the state they end in', () => {
      const m = recorder();
      recordAudit(m, entry('run', 'AWAITING_APPROVAL', 'SENDING'));
      recordAudit(m, entry('run', 'POLLING', 'SUCCEEDED'));
      recordAudit(m, entry('run', 'SENDING', 'SEND_FAILED', { result: 'error' }));
      expect(m.points).toEqual([
        ['Runs', 1, { outcome: 'SUCCEEDED' }],
        ['Runs', 1, { outcome: 'SEND_FAILED' }],
      ]);
    });

    it('times an alert from detection to the channel, and counts digests posted', () => {
      const m = recorder();
      recordAudit(m, entry('alert', 'UNNOTIFIED', 'POSTED'), {
        createdAt: new Date(Date.parse(AT) - 90_000).toISOString(),
      });
      recordAudit(m, entry('digest', 'POSTING', 'POSTED'));
      expect(m.points).toEqual([
        ['AlertPostDelay', 90],
        ['Digests', 1],
      ]);
    });

    it('ignores alerts, exceptions and refused requests', () => {
      const m = recorder();
      recordAudit(m, entry('alert', 'POSTING', 'POSTED'));
      recordAudit(m, entry('exception', 'ACTIVE', 'EXPIRED'));
      recordAudit(m, entry('request', null, null as unknown as string, { result: 'refused' }));
      expect(m.points).toEqual([]);
    });
  });
});
