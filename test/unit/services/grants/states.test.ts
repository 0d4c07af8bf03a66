import { canMove, GRANT_MOVES, LIVE_GRANT_STATUSES } from '../../../../services/grants/states';

describe('grant states', () => {
  it('pins every move a grant makes', () => {
    expect(GRANT_MOVES).toEqual({
      activate: { from: ['PENDING'], to: ['ACTIVE'] },
      fail: { from: ['PENDING'], to: ['FAILED'] },
      extend: { from: ['ACTIVE'], to: ['ACTIVE'] },
      warn: { from: ['ACTIVE'], to: ['ACTIVE'] },
      claim: { from: ['ACTIVE', 'REVOKE_FAILED', 'REVOKING'], to: ['REVOKING'] },
      finish: { from: ['REVOKING'], to: ['EXPIRED', 'REVOKED'] },
      retryLater: { from: ['REVOKING'], to: ['REVOKE_FAILED'] },
    });
  });

  it('never leaves a final state, and never skips the claim on the way out', () => {
    for (const final of ['EXPIRED', 'REVOKED', 'FAILED'] as const) {
      for (const to of ['PENDING', 'ACTIVE', 'REVOKING', 'REVOKE_FAILED', 'EXPIRED', 'REVOKED'] as const) {
        expect(canMove(final, to)).toBe(false);
      }
    }
    expect(canMove('ACTIVE', 'EXPIRED')).toBe(false);
    expect(canMove('ACTIVE', 'REVOKING')).toBe(true);
    expect(canMove('REVOKING', 'REVOKED')).toBe(true);
  });

  it('lists as live every state in which the rule may exist', () => {
    expect([...LIVE_GRANT_STATUSES].sort()).toEqual(['ACTIVE', 'PENDING', 'REVOKE_FAILED', 'REVOKING']);
  });
});
