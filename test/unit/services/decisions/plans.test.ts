import {
  planExpire,
  planFailedAttempt,
  planKeep,
  planReconcileClaim,
  planReopen,
  planRevoke,
  planRevokeAnswer,
  planRevokeClaim,
  planSettle,
} from '../../../../services/decisions/plans';
import { REVOKE_LEASE_SECONDS, retryBackoffSeconds } from '../../../../services/decisions/states';
import { SYSTEM_ACTOR, TIMEOUT_ACTOR } from '../../../../services/kernel/audit';
import { AwsCallError } from '../../../../services/shared/errors';
import { ruleFingerprint } from '../../../../services/shared/ids';
import type { Finding } from '../../../../services/shared/model';
import { newViolation } from '../../../../services/violations/factory';
import type { ExceptionItem, ViolationItem } from '../../../../services/violations/items';
import { ALICE, PRINCIPAL, sshRule, T0 } from './fixtures';

const ACTOR = {
  arn: PRINCIPAL,
  type: 'AssumedRole',
  roleArn: null,
  invokedBy: null,
  sourceIp: '198.51.100.7',
  userAgent: 'cli',
};
const ORIGIN = {
  alertId: 'evt-1',
  eventId: 'evt-1',
  region: 'us-east-1',
  account: '123456789012',
  actor: ACTOR,
  eventTime: T0.toISOString(),
};
const ALICE_ACTOR = { type: 'slack-user' as const, id: ALICE.id, name: ALICE.name };
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000).toISOString();

function finding(overrides: Partial<Finding> = {}): Finding {
  return {
    rule: sshRule(),
    severity: 'high',
    reasons: ['admin port 22 (SSH) open: 0.0.0.0/0 is the whole internet'],
    action: 'alert',
    timeoutSeconds: 900,
    dryRun: false,
    ...overrides,
  };
}

function pending(overrides: Partial<ViolationItem> = {}): ViolationItem {
  return {
    ...newViolation(ORIGIN, finding(), { index: 0, groupName: 'web', now: T0.toISOString() }),
    ...overrides,
  };
}

/** A violation as the claim left it: REVOKING, one version on, asked for by `revokeBy`. */
function claimed(overrides: Partial<ViolationItem> = {}): ViolationItem {
  return pending({ status: 'REVOKING', version: 2, revokeBy: ALICE_ACTOR, ...overrides });
}

function exception(overrides: Partial<ExceptionItem> = {}): ExceptionItem {
  const v = pending();
  const fingerprint = ruleFingerprint(v.account, v.region, v.rule);
  return {
    pk: `EXCEPTION#${fingerprint}`,
    sk: 'EXCEPTION',
    type: 'exception',
    status: 'ACTIVE',
    version: 1,
    fingerprint,
    violationId: v.violationId,
    rule: v.rule,
    region: v.region,
    account: v.account,
    severity: 'high',
    justification: 'load test',
    approvedBy: ALICE.id,
    approvedByName: ALICE.name,
    createdAt: T0.toISOString(),
    expiresAt: at(3600),
    ...overrides,
  };
}

describe('decision plans (pure)', () => {
  describe('planRevokeClaim', () => {
    it('claims a PENDING violation at the version read, with a lease RECONCILE watches', () => {
      const v = pending();
      const t = planRevokeClaim(v, ALICE_ACTOR, T0);
      expect(t).toMatchObject({
        key: { pk: `VIOLATION#${v.violationId}`, sk: 'VIOLATION' },
        from: ['PENDING'],
        expectVersion: 1,
        to: 'REVOKING',
        set: { revokeBy: ALICE_ACTOR },
        due: { kind: 'RECONCILE', at: at(REVOKE_LEASE_SECONDS) },
        audit: {
          subjectId: v.violationId,
          subjectType: 'violation',
          action: 'revoke-start',
          fromState: 'PENDING',
          toState: 'REVOKING',
          actorId: ALICE.id,
          result: 'ok',
          details: { attempt: 1, ruleId: 'sgr-0ssh' },
          at: T0.toISOString(),
        },
      });
    });

    it('claims a REVOKE_RETRY for its next attempt, and never a decided violation', () => {
      const retry = pending({ status: 'REVOKE_RETRY', version: 4, revokeAttempts: 2 });
      expect(planRevokeClaim(retry, TIMEOUT_ACTOR, T0)).toMatchObject({
        from: ['REVOKE_RETRY'],
        expectVersion: 4,
        audit: { details: { attempt: 3 } },
      });
      expect(() => planRevokeClaim(pending({ status: 'KEPT' }), ALICE_ACTOR, T0)).toThrow(
        'not an allowed move',
      );
    });
  });

  it('planReconcileClaim takes a REVOKING claim over for sg-warden, at the version the sweep saw', () => {
    const seen = claimed({ dueAt: at(-5) });
    expect(planReconcileClaim(seen, T0)).toMatchObject({
      from: ['REVOKING'],
      expectVersion: 2,
      to: 'REVOKING',
      due: { kind: 'RECONCILE', at: at(REVOKE_LEASE_SECONDS) },
      audit: {
        action: 'reconcile-start',
        actorType: SYSTEM_ACTOR.type,
        actorId: SYSTEM_ACTOR.id,
        details: { leaseExpiredAt: at(-5), revokeBy: ALICE_ACTOR },
      },
    });
  });

  describe('planRevoke: what the reads decide', () => {
    const live = sshRule();

    it.each([
      ['a vanished rule', claimed(), 'fresh', 'GONE', undefined],
      [
        'a vanished rule after an answer was lost',
        claimed({ revokeMayHaveApplied: true }),
        'fresh',
        'REVOKED',
        true,
      ],
      ['a vanished rule found by a reconcile', claimed(), 'reconcile', 'REVOKED', true],
      [
        'a vanished rule the clock claimed, reconciled',
        claimed({ revokeBy: TIMEOUT_ACTOR }),
        'reconcile',
        'AUTO_REVOKED',
        true,
      ],
      [
        'a vanished dry-run rule, even on reconcile',
        claimed({ dryRun: true }),
        'reconcile',
        'GONE',
        undefined,
      ],
    ] as const)('%s → %s', (_name, c, mode, to, reconciled) => {
      const next = planRevoke(c, mode, { live: null, keptUnder: null, violates: false });
      expect(next).toMatchObject({ call: 'none', settle: { to, result: 'ok' } });
      if (next.call === 'none') expect(next.settle.details.reconciled).toBe(reconciled);
    });

    it('resolves for the clock a rule kept under another decision, but revokes it for a person', () => {
      const kept = exception({ violationId: 'v-other' });
      const facts = { live, keptUnder: kept, violates: true };
      expect(planRevoke(claimed({ revokeBy: TIMEOUT_ACTOR }), 'fresh', facts)).toMatchObject({
        call: 'none',
        settle: { to: 'RESOLVED', details: { keptViolation: 'v-other', keptBy: ALICE.id } },
      });
      expect(planRevoke(claimed(), 'fresh', facts)).toEqual({ call: 'revoke', rule: live });
    });

    it('resolves a rule that no longer violates, records a dry run, and otherwise revokes the live rule', () => {
      expect(planRevoke(claimed(), 'fresh', { live, keptUnder: null, violates: false })).toMatchObject({
        call: 'none',
        settle: { to: 'RESOLVED', details: { liveRule: live } },
      });
      expect(
        planRevoke(claimed({ dryRun: true }), 'fresh', { live, keptUnder: null, violates: true }),
      ).toMatchObject({ call: 'none', settle: { to: 'DRY_RUN', details: { wouldRevoke: 'sgr-0ssh' } } });
      expect(planRevoke(claimed(), 'fresh', { live, keptUnder: null, violates: true })).toEqual({
        call: 'revoke',
        rule: live,
      });
    });
  });

  describe('planRevokeAnswer: what EC2 said', () => {
    const rule = sshRule();
    const ec2Error = (awsCode: string, more: { httpStatus?: number; attempts?: number } = {}) =>
      new AwsCallError(`RevokeSecurityGroupIngress failed: ${awsCode}`, {
        awsCode,
        requestId: 'req-x',
        ...more,
      });

    it('a revoke that worked ends REVOKED for a person, AUTO_REVOKED for the clock, with the request ID', () => {
      expect(planRevokeAnswer(claimed(), 'fresh', rule, { requestId: 'req-1' }, 5)).toEqual({
        to: 'REVOKED',
        result: 'ok',
        awsRequestId: 'req-1',
        details: { ruleId: 'sgr-0ssh', groupId: rule.groupId },
      });
      expect(
        planRevokeAnswer(claimed({ revokeBy: TIMEOUT_ACTOR }), 'reconcile', rule, { requestId: null }, 5),
      ).toEqual({
        to: 'AUTO_REVOKED',
        result: 'ok',
        details: { ruleId: 'sgr-0ssh', groupId: rule.groupId, reconciled: true },
      });
    });

    it('"not found" after the SDK retried means the first try removed it; without a retry, GONE', () => {
      const retried = ec2Error('InvalidSecurityGroupRuleId.NotFound', { httpStatus: 400, attempts: 2 });
      expect(planRevokeAnswer(claimed(), 'fresh', rule, { error: retried }, 5)).toMatchObject({
        to: 'REVOKED',
        awsRequestId: 'req-x',
        details: { reconciled: true },
      });
      const once = ec2Error('InvalidSecurityGroupRuleId.NotFound', { httpStatus: 400, attempts: 1 });
      expect(planRevokeAnswer(claimed(), 'fresh', rule, { error: once }, 5)).toMatchObject({
        to: 'GONE',
        result: 'ok',
        error: expect.stringContaining('NotFound'),
      });
    });

    it.each([
      ['a refusal (4xx)', { httpStatus: 403 }, 'UnauthorizedOperation', false],
      ['throttling', { httpStatus: 503 }, 'RequestLimitExceeded', false],
      ['an error inside EC2 (5xx)', { httpStatus: 500 }, 'InternalError', true],
      ['no answer at all', {}, 'TimeoutError', true],
    ] as const)('%s is retried later; may it have applied: %s', (_name, more, awsCode, applied) => {
      const s = planRevokeAnswer(claimed(), 'fresh', rule, { error: ec2Error(awsCode, more) }, 5);
      expect(s).toMatchObject({
        to: 'REVOKE_RETRY',
        result: 'error',
        awsRequestId: 'req-x',
        set: { revokeAttempts: 1, revokeMayHaveApplied: applied },
        details: { attempt: 1, of: 5 },
      });
    });

    it('gives up as FAILED on the last attempt', () => {
      const last = claimed({ revokeAttempts: 4 });
      expect(planFailedAttempt(last, new Error('boom'), 5)).toMatchObject({
        to: 'FAILED',
        error: 'boom',
        set: { revokeAttempts: 5, lastError: 'boom' },
      });
      expect(planFailedAttempt(last, new Error('boom'), 5).set).not.toHaveProperty('revokeMayHaveApplied');
    });
  });

  describe('planSettle', () => {
    it('records who decided and when, off the due index', () => {
      const t = planSettle(claimed(), { to: 'REVOKED', result: 'ok', details: {} }, T0);
      expect(t).toMatchObject({
        from: ['REVOKING'],
        expectVersion: 2,
        to: 'REVOKED',
        due: null,
        set: { decidedBy: ALICE.id, decidedByName: ALICE.name, decidedAt: T0.toISOString() },
        audit: { fromState: 'REVOKING', toState: 'REVOKED', actorId: ALICE.id, action: 'revoke' },
      });
    });

    it('a retry is due after the backoff and decides nothing; FAILED names no decider', () => {
      const retry = planSettle(
        claimed(),
        planFailedAttempt(claimed({ revokeAttempts: 1 }), new Error('x'), 5),
        T0,
      );
      expect(retry).toMatchObject({
        to: 'REVOKE_RETRY',
        due: { kind: 'REVOKE_RETRY', at: at(retryBackoffSeconds(2)) },
        set: { revokeAttempts: 2, lastError: 'x' },
        audit: { result: 'error', error: 'x' },
      });
      expect(retry.set).not.toHaveProperty('decidedAt');
      const failed = planSettle(claimed(), { to: 'FAILED', result: 'error', details: {} }, T0);
      expect(failed.set).toEqual({ decidedAt: T0.toISOString() });
    });

    it('acts for the clock when nobody asked', () => {
      const { revokeBy: _none, ...noAsker } = claimed();
      const t = planSettle(noAsker as ViolationItem, { to: 'AUTO_REVOKED', result: 'ok', details: {} }, T0);
      expect(t.audit).toMatchObject({ actorType: 'timeout', actorId: 'timeout' });
    });
  });

  describe('planKeep', () => {
    it('keeps a PENDING rule and records an exception due when it runs out', () => {
      const v = pending();
      const { transition, exception: ex } = planKeep(v, ALICE, 'load test', 3600, T0);
      expect(ex).toMatchObject({
        status: 'ACTIVE',
        violationId: v.violationId,
        expiresAt: at(3600),
        dueKind: 'EXCEPTION_EXPIRY',
        dueAt: at(3600),
        approvedBy: ALICE.id,
      });
      expect(transition).toMatchObject({
        from: ['PENDING'],
        expectVersion: 1,
        to: 'KEPT',
        due: null,
        set: { keptUntil: at(3600), justification: 'load test', decidedBy: ALICE.id },
        audit: { action: 'keep', justification: 'load test', details: { permanent: false } },
        alsoPut: [ex],
        alsoPutReplaces: { unlessStatus: 'ACTIVE', expiredBy: T0.toISOString() },
      });
    });

    it('a permanent keep is never due', () => {
      const { exception: ex, transition } = planKeep(pending({ severity: 'low' }), ALICE, 'ping', null, T0);
      expect(ex.expiresAt).toBeNull();
      expect(ex).not.toHaveProperty('dueKind');
      expect(transition.audit).toMatchObject({ details: { permanent: true, keptUntil: null } });
    });
  });

  describe('planReopen and planExpire', () => {
    it('re-opens a kept rule as a fresh alert and PENDING violation with IDs derived from the exception', () => {
      const ex = exception({ version: 3 });
      const kept = pending({ status: 'KEPT' });
      const now = at(3700);
      const plan = planReopen(ex, kept, finding(), now);
      expect(plan.alert).toMatchObject({
        alertId: `reopen-${ex.violationId}-3`,
        status: 'UNNOTIFIED',
        dueKind: 'NOTIFY',
        dueAt: now,
        reopenedFrom: ex.violationId,
        actor: ACTOR,
        violationIds: [plan.violation.violationId],
      });
      expect(plan.violation).toMatchObject({
        status: 'PENDING',
        alertId: plan.alert.alertId,
        deadline: at(3700 + 900),
        dueKind: 'DEADLINE',
        groupName: 'web',
      });
      // Who kept it until when travels as data; the alert words it (with a date in the reader's time).
      expect(plan.violation.previousKeep).toEqual({ byName: ex.approvedByName, until: ex.expiresAt });
      expect(plan.violation.reasons.join(' ')).not.toMatch(/\d{4}-\d{2}-\d{2}T/);
      expect(plan.audits.map((a) => [a.subjectType, a.action, a.toState, a.actorType])).toEqual([
        ['violation', 'reopen', 'PENDING', 'system'],
        ['alert', 'reopen', 'UNNOTIFIED', 'system'],
      ]);
      // The same exception re-opened twice (overlapping sweeps) names the same items.
      expect(planReopen(ex, kept, finding(), now).violation.violationId).toBe(plan.violation.violationId);
    });

    it('a notify-only finding re-opens without a deadline', () => {
      const plan = planReopen(exception(), null, finding({ action: 'notify', timeoutSeconds: null }), at(10));
      expect(plan.violation.deadline).toBeNull();
      expect(plan.violation).not.toHaveProperty('dueKind');
      expect(plan.alert.actor.arn).toBe('unknown');
    });

    it.each([
      ['gone', 'the rule no longer exists', null],
      ['no-longer-violates', 'the rule no longer violates the policy', null],
      [{ reopenedAs: 'v-new' }, 're-opened for a fresh decision', 'v-new'],
    ] as const)('planExpire(%j) says so', (found, note, reopenedAs) => {
      const ex = exception();
      expect(planExpire(ex, found, T0)).toMatchObject({
        key: { pk: ex.pk, sk: 'EXCEPTION' },
        from: ['ACTIVE'],
        expectVersion: 1,
        to: 'EXPIRED',
        due: null,
        audit: { subjectType: 'exception', subjectId: ex.violationId, details: { note, reopenedAs } },
      });
    });
  });
});
