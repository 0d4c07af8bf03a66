import { keepViolation } from '../../../../services/decisions/keep';
import {
  reconcileRevoke,
  retryRevoke,
  revokeAtDeadline,
  revokeViolation,
} from '../../../../services/decisions/revoke';
import { REVOKE_LEASE_SECONDS, retryBackoffSeconds } from '../../../../services/decisions/states';
import { keys } from '../../../../services/kernel/state';
import { ALICE, BOB, MESSAGE, seed, setup, sshRule, status, T0 } from './fixtures';

describe('decisions: revoke', () => {
  describe('revokeViolation', () => {
    it('revokes the rule by ID and records who, when and EC2 request ID', async () => {
      const env = setup();
      await seed(env);
      const result = await revokeViolation(env.deps, 'v-1', { type: 'slack-user', ...ALICE });
      expect(result.outcome).toBe('REVOKED');
      expect(env.ec2.revokes).toEqual([['sgr-0ssh']]);
      expect(await status(env)).toMatchObject({
        status: 'REVOKED',
        decidedBy: ALICE.id,
        decidedByName: 'alice',
        decidedAt: T0.toISOString(),
      });
      expect((await status(env)).dueKind).toBeUndefined();
      const audit = await env.store.auditFor('v-1');
      expect(audit.map((a) => [a.fromState, a.toState])).toEqual([
        ['PENDING', 'REVOKING'],
        ['REVOKING', 'REVOKED'],
      ]);
      expect(audit[1]).toMatchObject({
        actorType: 'slack-user',
        actorId: ALICE.id,
        actorName: 'alice',
        awsRequestId: 'req-1',
        result: 'ok',
      });
      expect(env.notifier.updates).toHaveLength(1);
    });

    it('ends as AUTO_REVOKED with actor "timeout" at the deadline', async () => {
      const env = setup();
      const v = await seed(env);
      const result = await revokeAtDeadline(env.deps, v);
      expect(result.outcome).toBe('AUTO_REVOKED');
      expect(await status(env)).toMatchObject({ decidedBy: 'timeout' });
      const audit = await env.store.auditFor('v-1');
      expect(audit.at(-1)).toMatchObject({
        actorType: 'timeout',
        actorId: 'timeout',
        toState: 'AUTO_REVOKED',
      });
    });

    it('ends as GONE without revoking when the rule no longer exists', async () => {
      const env = setup();
      await seed(env);
      env.ec2.rules.clear();
      const result = await revokeViolation(env.deps, 'v-1', { type: 'slack-user', ...ALICE });
      expect(result.outcome).toBe('GONE');
      expect(env.ec2.revokes).toHaveLength(0);
    });

    it('ends as RESOLVED when the rule changed and no longer violates', async () => {
      const env = setup();
      await seed(env);
      env.ec2.rules.set('sgr-0ssh', { ...sshRule(), source: '10.0.0.0/8' });
      const result = await revokeViolation(env.deps, 'v-1', { type: 'timeout' });
      expect(result.outcome).toBe('RESOLVED');
      expect(env.ec2.revokes).toHaveLength(0);
    });

    /** Records who set the exemption tag, as detection does on a confirmed CreateTags. */
    async function tagSetBy(env: ReturnType<typeof setup>, arn: string, value = 'load test'): Promise<void> {
      const key = keys.tagSetter('123456789012', 'us-east-1', sshRule().groupId, 'sg-warden:exempt');
      const actor = {
        arn,
        type: 'AssumedRole',
        roleArn: null,
        invokedBy: null,
        sourceIp: null,
        userAgent: null,
      };
      await env.store.createAll(
        [{ ...key, type: 'tagset', status: 'SET', version: 1, tagKey: 'sg-warden:exempt', value, actor }],
        [],
      );
    }
    const ADMIN_ROLE = 'arn:aws:iam::123456789012:role/network-admins';

    it('ends as RESOLVED when the group became exempt by a tag a trusted tagger set', async () => {
      const env = setup(
        {},
        { exceptions: { tags: [{ key: 'sg-warden:exempt' }], trustedTaggers: [ADMIN_ROLE] } },
      );
      await seed(env);
      env.ec2.tags = { 'sg-warden:exempt': 'load test' };
      await tagSetBy(env, ADMIN_ROLE);
      expect((await revokeViolation(env.deps, 'v-1', { type: 'timeout' })).outcome).toBe('RESOLVED');
    });

    it('still revokes when the exemption tag was set by someone who is not a trusted tagger, or nobody on record', async () => {
      const env = setup(
        {},
        { exceptions: { tags: [{ key: 'sg-warden:exempt' }], trustedTaggers: [ADMIN_ROLE] } },
      );
      await seed(env);
      env.ec2.tags = { 'sg-warden:exempt': 'load test' };
      expect((await revokeViolation(env.deps, 'v-1', { type: 'timeout' })).outcome).toBe('AUTO_REVOKED');

      const untrusted = setup(
        {},
        { exceptions: { tags: [{ key: 'sg-warden:exempt' }], trustedTaggers: [ADMIN_ROLE] } },
      );
      await seed(untrusted);
      untrusted.ec2.tags = { 'sg-warden:exempt': 'load test' };
      await tagSetBy(untrusted, 'arn:aws:iam::123456789012:user/eve');
      expect((await revokeViolation(untrusted.deps, 'v-1', { type: 'timeout' })).outcome).toBe(
        'AUTO_REVOKED',
      );
    });

    it('never auto-revokes a rule kept under another alert, but a person still may', async () => {
      const env = setup();
      await seed(env);
      await seed(env, { id: 'v-2', alertId: 'evt-2' });
      expect((await keepViolation(env.deps, 'v-2', ALICE, 'needed', 3600)).ok).toBe(true);
      const result = await revokeViolation(env.deps, 'v-1', { type: 'timeout' });
      expect(result.outcome).toBe('RESOLVED');
      expect(env.ec2.revokes).toHaveLength(0);
      expect((await env.store.auditFor('v-1')).at(-1)!.details).toMatchObject({ keptViolation: 'v-2' });

      await seed(env, { id: 'v-3', alertId: 'evt-3' });
      expect((await revokeViolation(env.deps, 'v-3', { type: 'slack-user', ...BOB })).outcome).toBe(
        'REVOKED',
      );
    });

    it('records a dry run and never calls EC2 to revoke', async () => {
      const env = setup();
      await seed(env, { dryRun: true });
      const result = await revokeViolation(env.deps, 'v-1', { type: 'timeout' });
      expect(result.outcome).toBe('DRY_RUN');
      expect(env.ec2.revokes).toHaveLength(0);
      expect(env.ec2.rules.has('sgr-0ssh')).toBe(true);
    });

    it('finds a rule without an ID by its content and revokes it by the ID EC2 gives', async () => {
      const env = setup();
      await seed(env, { rule: sshRule(null) });
      env.ec2.rules.set('sgr-0live', sshRule('sgr-0live'));
      expect((await revokeViolation(env.deps, 'v-1', { type: 'timeout' })).outcome).toBe('AUTO_REVOKED');
      expect(env.ec2.revokes).toEqual([['sgr-0live']]);
    });

    it('makes exactly one EC2 call when a click and the clock race', async () => {
      const env = setup();
      const v = await seed(env);
      const results = await Promise.all([
        revokeViolation(env.deps, 'v-1', { type: 'slack-user', ...ALICE }),
        revokeAtDeadline(env.deps, v),
        revokeViolation(env.deps, 'v-1', { type: 'slack-user', ...BOB }),
      ]);
      expect(env.ec2.revokes).toHaveLength(1);
      const winners = results.filter((r) => r.outcome === 'REVOKED' || r.outcome === 'AUTO_REVOKED');
      expect(winners).toHaveLength(1);
    });

    it('answers not-pending for a decided violation and not-found for an unknown one', async () => {
      const env = setup();
      await seed(env);
      await revokeViolation(env.deps, 'v-1', { type: 'timeout' });
      expect((await revokeViolation(env.deps, 'v-1', { type: 'timeout' })).outcome).toBe('not-pending');
      expect((await revokeViolation(env.deps, 'v-nope', { type: 'timeout' })).outcome).toBe('not-found');
      expect(env.ec2.revokes).toHaveLength(1);
    });
  });

  describe('a revoke EC2 refuses', () => {
    it('is retried with backoff, then FAILED with a notice in the alert thread naming the rule and error', async () => {
      const env = setup({ revokeAttempts: 3 });
      await seed(env);
      env.ec2.refuse = 10;
      let result = await revokeViolation(env.deps, 'v-1', { type: 'slack-user', ...ALICE });
      expect(result.outcome).toBe('REVOKE_RETRY');
      let v = await status(env);
      expect(v).toMatchObject({ status: 'REVOKE_RETRY', revokeAttempts: 1, dueKind: 'REVOKE_RETRY' });
      expect(v.dueAt).toBe(new Date(T0.getTime() + retryBackoffSeconds(1) * 1000).toISOString());
      expect(v.lastError).toContain('UnauthorizedOperation');

      result = await retryRevoke(env.deps, v);
      expect(result.outcome).toBe('REVOKE_RETRY');
      v = await status(env);
      expect(v.revokeAttempts).toBe(2);
      result = await retryRevoke(env.deps, v);
      expect(result.outcome).toBe('FAILED');
      expect(env.ec2.revokes).toHaveLength(3);
      expect(await status(env)).toMatchObject({ status: 'FAILED', revokeAttempts: 3 });
      expect((await status(env)).dueKind).toBeUndefined();
      expect(env.notifier.notices).toHaveLength(1);
      expect(env.notifier.notices[0]).toMatchObject({ channel: 'C0ALERTS', threadTs: MESSAGE.ts });
      expect(env.notifier.notices[0]!.text).toContain('sgr-0ssh');
      expect(env.notifier.notices[0]!.text).toContain('UnauthorizedOperation');
      const audit = await env.store.auditFor('v-1');
      const errors = audit.filter((a) => a.result === 'error');
      expect(errors).toHaveLength(3);
      expect(errors[0]).toMatchObject({ awsRequestId: 'req-refused', actorId: ALICE.id });
    });

    it('ends as REVOKED for the person who asked when a retry succeeds', async () => {
      const env = setup();
      await seed(env);
      env.ec2.refuse = 1;
      await revokeViolation(env.deps, 'v-1', { type: 'slack-user', ...ALICE });
      const result = await retryRevoke(env.deps, await status(env));
      expect(result.outcome).toBe('REVOKED');
      expect(await status(env)).toMatchObject({ decidedBy: ALICE.id });
    });

    it('ends as GONE when EC2 says the rule is not found', async () => {
      const env = setup();
      await seed(env);
      env.ec2.refuse = 1;
      env.ec2.refuseWith = 'InvalidSecurityGroupRuleId.NotFound';
      expect((await revokeViolation(env.deps, 'v-1', { type: 'timeout' })).outcome).toBe('GONE');
    });
  });

  describe('reconcile', () => {
    it('records a revoke whose state write was lost exactly once, as reconciled', async () => {
      const env = setup();
      await seed(env);
      env.store.failTransition = (t) => t.to === 'REVOKED';
      await expect(revokeViolation(env.deps, 'v-1', { type: 'slack-user', ...ALICE })).rejects.toThrow(
        'simulated write failure',
      );
      env.store.failTransition = null;
      const claimed = await status(env);
      expect(claimed).toMatchObject({ status: 'REVOKING', dueKind: 'RECONCILE' });
      expect(claimed.dueAt).toBe(new Date(T0.getTime() + REVOKE_LEASE_SECONDS * 1000).toISOString());
      expect(env.ec2.rules.has('sgr-0ssh')).toBe(false);

      env.setNow(new Date(T0.getTime() + (REVOKE_LEASE_SECONDS + 1) * 1000));
      const [first, second] = await Promise.all([
        reconcileRevoke(env.deps, claimed),
        reconcileRevoke(env.deps, claimed),
      ]);
      expect([first.outcome, second.outcome].sort()).toEqual(['REVOKED', 'lost-race']);
      expect(env.ec2.revokes).toHaveLength(1);
      const audit = await env.store.auditFor('v-1');
      const revoked = audit.filter((a) => a.toState === 'REVOKED');
      expect(revoked).toHaveLength(1);
      expect(revoked[0]).toMatchObject({
        actorId: ALICE.id,
        details: expect.objectContaining({ reconciled: true }),
      });
    });

    it('revokes when the claim died before the EC2 call', async () => {
      const env = setup();
      const v = await seed(env);
      env.ec2.refuse = 0;
      const origRevoke = env.ec2.revokeRules.bind(env.ec2);
      env.ec2.revokeRules = async () => {
        throw new Error('process died');
      };
      env.store.failTransition = (t) => t.to === 'REVOKE_RETRY';
      await expect(revokeAtDeadline(env.deps, v)).rejects.toThrow();
      env.store.failTransition = null;
      env.ec2.revokeRules = origRevoke;
      const result = await reconcileRevoke(env.deps, await status(env));
      expect(result.outcome).toBe('AUTO_REVOKED');
      expect(env.ec2.rules.has('sgr-0ssh')).toBe(false);
    });
  });
});
