import { SYSTEM_ACTOR } from '../../../../services/kernel/audit';
import { RefusedError, recordRefusal, refusalOf } from '../../../../services/kernel/refusal';
import { keys } from '../../../../services/kernel/state';
import { step, subjectOf } from '../../../../services/kernel/step';
import { backoffSeconds, plusSeconds } from '../../../../services/kernel/time';
import { BadInputError } from '../../../../services/shared/errors';
import { createLogger } from '../../../../services/shared/logger';
import { MemoryStateStore } from '../../../support/memory-store';

const AT = '2026-11-23T10:00:00.000Z';
const grant = {
  ...keys.grant('g-1'),
  type: 'grant' as const,
  status: 'ACTIVE',
  version: 3,
  grantId: 'g-1',
};

describe('state kernel', () => {
  describe('time', () => {
    it('adds and subtracts seconds from a Date or an ISO time', () => {
      expect(plusSeconds(new Date(AT), 90)).toBe('2026-11-23T10:01:30.000Z');
      expect(plusSeconds(AT, -60)).toBe('2026-11-23T09:59:00.000Z');
    });

    it('doubles the wait from the base after each failure and never passes the cap', () => {
      expect([1, 2, 3, 4, 5, 6].map((n) => backoffSeconds(n, 30, 900))).toEqual([30, 60, 120, 240, 480, 900]);
      expect(backoffSeconds(0, 30, 900)).toBe(30);
    });
  });

  describe('step', () => {
    it('derives the key, the from-state, the version and the audit entry from the item it moves', () => {
      const t = step(grant, {
        to: 'REVOKING',
        action: 'revoke',
        by: SYSTEM_ACTOR,
        at: AT,
        due: { kind: 'GRANT_EXPIRY', at: AT },
        set: { endAs: 'REVOKED' },
        details: { why: 'test' },
      });
      expect(t).toEqual({
        key: { pk: 'GRANT#g-1', sk: 'GRANT' },
        from: ['ACTIVE'],
        to: 'REVOKING',
        expectVersion: 3,
        set: { endAs: 'REVOKED' },
        due: { kind: 'GRANT_EXPIRY', at: AT },
        audit: {
          subjectId: 'g-1',
          subjectType: 'grant',
          action: 'revoke',
          fromState: 'ACTIVE',
          toState: 'REVOKING',
          actorType: 'system',
          actorId: 'sg-warden',
          actorName: 'sg-warden',
          result: 'ok',
          at: AT,
          details: { why: 'test' },
        },
      });
    });

    it('moves from any of several states without a version check only when asked, and can skip the audit', () => {
      const t = step(grant, {
        to: 'EXPIRED',
        action: 'expire',
        by: SYSTEM_ACTOR,
        at: AT,
        due: null,
        from: ['ACTIVE', 'REVOKE_FAILED'],
        anyVersion: true,
        unaudited: true,
      });
      expect(t.from).toEqual(['ACTIVE', 'REVOKE_FAILED']);
      expect(t.expectVersion).toBeUndefined();
      expect(t.audit).toBeNull();
    });

    it('names each kind of item by its own ID in the audit trail', () => {
      expect(
        subjectOf({ ...keys.run('r-1'), type: 'run', status: 'RUNNING', version: 1, runId: 'r-1' }),
      ).toEqual({ id: 'r-1', type: 'run' });
    });
  });

  describe('refusals', () => {
    it('puts a refusal on the audit trail with its code and returns it', async () => {
      const store = new MemoryStateStore();
      const refusal = { code: 'NOT_AUTHORISED', message: 'You may not.' };
      const deps = { store, clock: () => new Date(AT), logger: createLogger('silent') };
      const by = { type: 'slack-user' as const, id: 'U1', name: 'erin' };
      await expect(
        recordRefusal(deps, { subject: { id: 'g-1', type: 'grant' }, action: 'extend', by, refusal }),
      ).resolves.toEqual(refusal);
      expect(await store.auditFor('g-1')).toEqual([
        expect.objectContaining({
          action: 'extend',
          result: 'refused',
          error: 'You may not.',
          details: { code: 'NOT_AUTHORISED' },
          actorId: 'U1',
        }),
      ]);
    });

    it('carries a refusal as an error, and reads one back from any error sg-warden raises on purpose', () => {
      const error = new RefusedError({ code: 'BAD_DURATION', message: 'Too long.' });
      expect(error.refusal).toEqual({ code: 'BAD_DURATION', message: 'Too long.' });
      expect(refusalOf(new BadInputError('Nope.'))).toEqual({ code: 'BAD_INPUT', message: 'Nope.' });
      expect(refusalOf(new Error('boom'))).toBeNull();
    });
  });
});
