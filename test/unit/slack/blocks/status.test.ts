import type { ExceptionItem, ViolationItem } from '../../../../services/violations/items';
import { overviewMessage } from '../../../../slack/blocks/status';

const now = new Date('2026-11-23T12:00:00.000Z');
const rule = {
  groupId: 'sg-0123456789abcdef0',
  ruleId: 'sgr-0123456789abcdef0',
  direction: 'ingress' as const,
  protocol: 'tcp',
  fromPort: 22,
  toPort: 22,
  source: '0.0.0.0/0',
  sourceKind: 'ipv4' as const,
  description: null,
};

function violation(overrides: Partial<ViolationItem> = {}): ViolationItem {
  return {
    pk: 'VIOLATION#v-1',
    sk: 'VIOLATION',
    type: 'violation',
    status: 'PENDING',
    version: 1,
    violationId: 'v-1',
    alertId: 'e-1',
    eventId: 'e-1',
    region: 'eu-west-1',
    account: '111122223333',
    groupId: rule.groupId,
    groupName: 'web',
    rule,
    severity: 'high',
    reasons: ['SSH open'],
    action: 'alert',
    dryRun: false,
    actor: {
      arn: 'arn:aws:iam::111122223333:user/dev',
      type: 'IAMUser',
      roleArn: null,
      invokedBy: null,
      sourceIp: null,
      userAgent: null,
    },
    eventTime: now.toISOString(),
    createdAt: now.toISOString(),
    deadline: '2026-11-23T12:15:00.000Z',
    revokeAttempts: 0,
    ...overrides,
  };
}

function exception(overrides: Partial<ExceptionItem> = {}): ExceptionItem {
  return {
    pk: 'EXCEPTION#f',
    sk: 'EXCEPTION',
    type: 'exception',
    status: 'ACTIVE',
    version: 1,
    fingerprint: 'f',
    violationId: 'v-2',
    rule,
    region: 'us-east-2',
    account: '444455556666',
    severity: 'high',
    justification: 'vendor',
    approvedBy: 'U0APPROVER',
    approvedByName: 'alex',
    createdAt: now.toISOString(),
    expiresAt: null,
    ...overrides,
  };
}

describe('overviewMessage', () => {
  describe('naming accounts', () => {
    it('names each violation and kept rule by account alias and ID when an alias is configured', () => {
      const message = overviewMessage(
        { now, violations: [violation()], exceptions: [exception()], grants: [], runs: [] },
        new Map(),
        { '111122223333': 'prod <main>' },
      );
      const text = JSON.stringify(message.blocks);
      expect(text).toContain('prod &lt;main&gt; (111122223333), eu-west-1');
      expect(text).toContain('(444455556666, us-east-2)');
    });

    it('names the account by ID alone without aliases', () => {
      const message = overviewMessage(
        { now, violations: [violation()], exceptions: [], grants: [], runs: [] },
        new Map(),
      );
      expect(JSON.stringify(message.blocks)).toContain('(111122223333, eu-west-1)');
    });
  });
});
