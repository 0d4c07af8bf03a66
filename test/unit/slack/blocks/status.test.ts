import type { StoredAuditEntry } from '../../../../services/kernel/audit';
import type { ExceptionItem, ViolationItem } from '../../../../services/violations/items';
import {
  auditMessage,
  groupMessage,
  overviewMessage,
  statusRefusedMessage,
} from '../../../../slack/blocks/status';
import {
  allText,
  BREAKOUT,
  BREAKOUT_SHOWN,
  DOMAIN,
  expectNoLinkTo,
  expectVerbatim,
  URL,
} from './hostile-text';

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

    it('names who kept a rule by Slack mention where the ID is known, the stored name only where not', () => {
      const withId = overviewMessage(
        { now, violations: [], exceptions: [exception()], grants: [], runs: [] },
        new Map(),
      );
      expect(JSON.stringify(withId.blocks)).toContain('kept by <@U0APPROVER> permanently');
      const withoutId = overviewMessage(
        {
          now,
          violations: [],
          exceptions: [exception({ approvedBy: 'arn:aws:iam::1:user/ops' })],
          grants: [],
          runs: [],
        },
        new Map(),
      );
      expect(JSON.stringify(withoutId.blocks)).toContain('kept by alex permanently');
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

describe('status messages: case 9, text from AWS stays text', () => {
  it('a group’s name and its rules’ descriptions are shown literally, in verbatim sections', () => {
    const message = groupMessage({
      now,
      groupId: rule.groupId,
      region: 'eu-west-1',
      alias: null,
      groupName: `web ${DOMAIN}\nx`,
      exists: true,
      rules: [{ rule: { ...rule, description: `see ${URL} ${BREAKOUT}` }, mark: { kind: 'ok' } }],
    });
    expectVerbatim(message.blocks);
    expectNoLinkTo(message.blocks);
    const text = allText(message.blocks.slice(1));
    expect(text).toContain(`_see ${URL} ${BREAKOUT_SHOWN}_`);
    const header = allText(message.blocks.slice(0, 1));
    expect(header).not.toContain(DOMAIN);
    expect(header).not.toMatch(/\n/);
    expect(message.text).not.toContain(DOMAIN);
  });

  it('an audit history shows names, errors and justifications literally', () => {
    const entry = {
      entryId: '1',
      subjectId: 'v-1',
      subjectType: 'violation',
      action: 'keep',
      fromState: 'PENDING',
      toState: 'KEPT',
      actorType: 'aws-principal',
      actorId: 'arn',
      actorName: `arn:aws:iam::1:user/${BREAKOUT}`,
      result: 'error',
      error: `denied ${URL} ${BREAKOUT}`,
      justification: `ticket ${URL}\n*Who*`,
      at: now.toISOString(),
    } as StoredAuditEntry;
    const message = auditMessage({ now, subjectId: 'v-1', entries: [entry], total: 1, days: 0 });
    expectVerbatim(message.blocks);
    expectNoLinkTo(message.blocks);
    const text = allText(message.blocks);
    expect(text).toContain(`user/${BREAKOUT_SHOWN}`);
    expect(text).toContain(`denied ${URL} ${BREAKOUT_SHOWN}`);
    expect(text).toContain(`ticket ${URL}\`\\n\`*Who*`);
  });

  it('the overview is verbatim, and the refusal is one verbatim sentence', () => {
    const overview = overviewMessage(
      { now, violations: [violation({ reasons: [URL] })], exceptions: [exception()], grants: [], runs: [] },
      new Map(),
    );
    expectVerbatim(overview.blocks);
    const refused = statusRefusedMessage({ code: 'NOT_A_STATUS_READER', message: 'Only <them>.' });
    expect(refused.blocks).toHaveLength(1);
    expectVerbatim(refused.blocks);
    expect(refused.text).toBe(':no_entry_sign: Only &lt;them&gt;. (NOT_A_STATUS_READER)');
  });
});
