import { keepForPerson, prepareKeep } from '../../../../services/decisions/keep';
import { resolveTarget } from '../../../../services/decisions/requests';
import { revokeForPerson } from '../../../../services/decisions/revoke';
import { ALICE, BOB, MESSAGE, seed, setup, sshRule, status } from './fixtures';

describe('decisions: requests', () => {
  describe('people acting on an alert', () => {
    it('revoke-all revokes every pending rule of the alert and refreshes the message once', async () => {
      const env = setup();
      await seed(env);
      await seed(env, { id: 'v-2', rule: sshRule('sgr-0two') });
      const out = await revokeForPerson(env.deps, ALICE, { alertId: 'evt-1' }, MESSAGE);
      expect(out.refused).toBeNull();
      expect(out.results.map((r) => r.outcome)).toEqual(['REVOKED', 'REVOKED']);
      expect(env.ec2.revokes).toHaveLength(2);
      expect(env.notifier.updates).toHaveLength(1);
    });

    it('revoke-all reports a revoke that failed on our side as an error, not as someone else’s decision', async () => {
      const env = setup();
      await seed(env);
      await seed(env, { id: 'v-2', rule: sshRule('sgr-0two') });
      env.store.failTransition = (t) => t.key.pk === 'VIOLATION#v-2' && t.to === 'REVOKING';

      const out = await revokeForPerson(env.deps, ALICE, { alertId: 'evt-1' }, MESSAGE);

      expect(out.results.map((r) => r.outcome)).toEqual(['REVOKED', 'error']);
      expect(out.results[1]).toMatchObject({ violationId: 'v-2', error: 'simulated write failure' });
      expect((await status(env, 'v-2')).status).toBe('PENDING');
    });

    it('refuses someone not on the revokers list: nothing changes but the audit trail', async () => {
      const env = setup({ revokers: { users: [ALICE.id] } });
      await seed(env);
      const out = await revokeForPerson(env.deps, BOB, { violationIds: ['v-1'] }, MESSAGE);
      expect(out.refused).toMatchObject({ code: 'NOT_AUTHORISED' });
      expect(env.ec2.revokes).toHaveLength(0);
      expect((await status(env)).status).toBe('PENDING');
      expect((await env.store.auditFor('v-1')).at(-1)).toMatchObject({ action: 'revoke', result: 'refused' });
    });

    it('refuses an unknown violation ID', async () => {
      const env = setup();
      await seed(env);
      const out = await revokeForPerson(env.deps, ALICE, { violationIds: ['v-forged'] }, MESSAGE);
      expect(out.refused).toMatchObject({ code: 'NOT_FOUND' });
      expect(env.ec2.revokes).toHaveLength(0);
    });

    it('keep-all keeps every pending rule, or none when permanent is not allowed for one of them', async () => {
      const env = setup();
      await seed(env, { severity: 'low' });
      await seed(env, { id: 'v-2', rule: sshRule('sgr-0two') });
      const refused = await keepForPerson(env.deps, ALICE, { alertId: 'evt-1' }, MESSAGE, 'x', null);
      expect(refused.refused).toMatchObject({ code: 'PERMANENT_NOT_ALLOWED' });
      expect((await status(env)).status).toBe('PENDING');
      const kept = await keepForPerson(env.deps, ALICE, { alertId: 'evt-1' }, MESSAGE, 'x', 86400);
      expect(kept.results.every((r) => r.ok)).toBe(true);
      expect((await status(env, 'v-2')).status).toBe('KEPT');
    });
  });

  describe('every request bound to its alert message', () => {
    it('refuses a button value that belongs to another alert message', async () => {
      const env = setup();
      await seed(env);
      const result = await keepForPerson(
        env.deps,
        ALICE,
        { violationIds: ['v-1'] },
        { channel: 'C0ALERTS', ts: '1600000000.000001' },
        'x',
        3600,
      );
      expect(result.refused).toMatchObject({ code: 'WRONG_MESSAGE' });
      expect((await status(env)).status).toBe('PENDING');
      expect((await env.store.auditFor('v-1')).at(-1)).toMatchObject({
        action: 'keep',
        result: 'refused',
        details: { code: 'WRONG_MESSAGE' },
      });
    });

    it.each([
      ['no message at all', null],
      ['a message without a channel', { channel: '', ts: MESSAGE.ts }],
      ['a message without a ts', { channel: MESSAGE.channel, ts: '' }],
    ])('refuses a request with %s instead of skipping the check', async (_name, message) => {
      const env = setup();
      await seed(env);
      const revoke = await revokeForPerson(env.deps, ALICE, { violationIds: ['v-1'] }, message);
      expect(revoke.refused).toMatchObject({ code: 'WRONG_MESSAGE' });
      const keep = await keepForPerson(env.deps, ALICE, { violationIds: ['v-1'] }, message, 'x', 3600);
      expect(keep.refused).toMatchObject({ code: 'WRONG_MESSAGE' });
      const prepared = await prepareKeep(env.deps, ALICE, { alertId: 'evt-1' }, message);
      expect(prepared).toMatchObject({ refusal: { code: 'WRONG_MESSAGE' } });
      expect(env.ec2.revokes).toHaveLength(0);
      expect((await status(env)).status).toBe('PENDING');
      const refused = (await env.store.auditFor('v-1')).filter((a) => a.result === 'refused');
      expect(refused.map((a) => a.action)).toEqual(['revoke', 'keep']);
    });

    it('refuses a dialog that names the rule of another alert than the one it names', async () => {
      const env = setup();
      await seed(env);
      await seed(env, { id: 'v-2', alertId: 'evt-2', rule: sshRule('sgr-0two') });
      const out = await keepForPerson(
        env.deps,
        ALICE,
        { violationIds: ['v-2'], alertId: 'evt-1' },
        MESSAGE,
        'x',
        3600,
      );
      expect(out.refused).toMatchObject({ code: 'WRONG_MESSAGE' });
      expect((await status(env, 'v-2')).status).toBe('PENDING');
    });

    it('refuses a dialog whose alert was posted elsewhere than the message it names', async () => {
      const env = setup();
      await seed(env);
      const elsewhere = { channel: 'C0OTHER', ts: MESSAGE.ts };
      expect(
        await resolveTarget(env.deps, { violationIds: ['v-1'], alertId: 'evt-1' }, elsewhere),
      ).toMatchObject({
        code: 'WRONG_MESSAGE',
      });
      expect(await resolveTarget(env.deps, { alertId: 'evt-1' }, elsewhere)).toMatchObject({
        code: 'WRONG_MESSAGE',
      });
    });

    it('accepts the rules of the alert on that message, and refuses a request that names nothing', async () => {
      const env = setup();
      await seed(env);
      const resolved = await resolveTarget(env.deps, { violationIds: ['v-1'], alertId: 'evt-1' }, MESSAGE);
      expect(resolved).toMatchObject({ alert: { alertId: 'evt-1' }, violations: [{ violationId: 'v-1' }] });
      expect(await resolveTarget(env.deps, null, MESSAGE)).toMatchObject({ code: 'NOT_FOUND' });
      const out = await keepForPerson(env.deps, BOB, null, MESSAGE, 'x', 3600);
      expect(out.refused).toMatchObject({ code: 'NOT_FOUND' });
      expect((await env.store.auditFor(BOB.id)).at(-1)).toMatchObject({
        subjectType: 'request',
        action: 'keep',
        result: 'refused',
      });
    });
  });
});
