import { keepViolation } from '../../../../services/decisions/keep';
import { revokeViolation } from '../../../../services/decisions/revoke';
import { keys } from '../../../../services/kernel/state';
import { ruleFingerprint } from '../../../../services/shared/ids';
import type { ExceptionItem } from '../../../../services/violations/items';
import { ALICE, BOB, PRINCIPAL, seed, setup, sshRule, status, T0 } from './fixtures';

describe('decisions: keep', () => {
  describe('keepViolation', () => {
    it('keeps the rule with justification and expiry and records an ACTIVE exception due at expiry', async () => {
      const env = setup();
      const v = await seed(env);
      const result = await keepViolation(env.deps, 'v-1', ALICE, '  load test until 11:00 ', 3600);
      expect(result.ok).toBe(true);
      const until = new Date(T0.getTime() + 3600_000).toISOString();
      expect(await status(env)).toMatchObject({
        status: 'KEPT',
        keptUntil: until,
        justification: 'load test until 11:00',
        decidedBy: ALICE.id,
      });
      const ex = await env.store.get<ExceptionItem>(
        keys.exception(ruleFingerprint(v.account, v.region, v.rule)),
      );
      expect(ex).toMatchObject({
        status: 'ACTIVE',
        expiresAt: until,
        dueKind: 'EXCEPTION_EXPIRY',
        dueAt: until,
      });
      const audit = await env.store.auditFor('v-1');
      expect(audit.at(-1)).toMatchObject({
        action: 'keep',
        toState: 'KEPT',
        justification: 'load test until 11:00',
        actorName: 'alice',
      });
    });

    it.each([
      ['not an approver', { approvers: { users: [ALICE.id] } }, BOB, 3600, 'NOT_AUTHORISED'],
      ['the author of the change', { principalToSlack: { [PRINCIPAL]: BOB.id } }, BOB, 3600, 'SELF_APPROVAL'],
      ['permanent for a high rule', {}, ALICE, null, 'PERMANENT_NOT_ALLOWED'],
      ['a duration not offered', {}, ALICE, 1234, 'BAD_DURATION'],
    ])('refuses %s and audits the refusal', async (_name, decisions, person, duration, code) => {
      const env = setup(decisions);
      await seed(env);
      const result = await keepViolation(env.deps, 'v-1', person, 'because', duration as number | null);
      expect(result).toMatchObject({ ok: false, refusal: { code } });
      expect((await status(env)).status).toBe('PENDING');
      expect((await env.store.auditFor('v-1')).at(-1)).toMatchObject({
        result: 'refused',
        actorId: person.id,
        details: { code },
      });
    });

    it('allows an approver through a user group, and a wildcard principal mapping catches self-approval', async () => {
      const env = setup({
        approvers: { userGroups: ['S0APPROVERS'] },
        principalToSlack: { 'arn:aws:sts::*:assumed-role/Admin/bob@example.com': BOB.id },
      });
      await seed(env);
      expect((await keepViolation(env.deps, 'v-1', BOB, 'x', 3600)).ok).toBe(false);
      expect((await keepViolation(env.deps, 'v-1', ALICE, 'x', 3600)).ok).toBe(true);
    });

    it('keeps a low rule permanently: never due', async () => {
      const env = setup();
      const v = await seed(env, { severity: 'low' });
      expect((await keepViolation(env.deps, 'v-1', ALICE, 'ping monitoring', null)).ok).toBe(true);
      const ex = await env.store.get<ExceptionItem>(
        keys.exception(ruleFingerprint(v.account, v.region, v.rule)),
      );
      expect(ex).toMatchObject({ status: 'ACTIVE', expiresAt: null });
      expect(ex!.dueKind).toBeUndefined();
    });

    it('refuses a keep after a revoke won, and a revoke after a keep won', async () => {
      const env = setup();
      await seed(env);
      await revokeViolation(env.deps, 'v-1', { type: 'timeout' });
      expect(await keepViolation(env.deps, 'v-1', ALICE, 'x', 3600)).toMatchObject({
        ok: false,
        refusal: { code: 'ALREADY_DECIDED' },
      });
      await seed(env, { id: 'v-2', alertId: 'evt-2', rule: sshRule('sgr-0two') });
      await keepViolation(env.deps, 'v-2', ALICE, 'x', 3600);
      expect((await revokeViolation(env.deps, 'v-2', { type: 'timeout' })).outcome).toBe('not-pending');
    });
  });
});
