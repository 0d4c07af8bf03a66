import { revokeNote } from '../../../../slack/listeners/decisions/revoke';

describe('revokeNote', () => {
  it('tells a failure on our side as such, with the error', () => {
    const note = revokeNote({
      violationId: 'v-2',
      outcome: 'error',
      violation: null,
      error: 'DynamoDB: InternalServerError',
    });
    expect(note).toBe(
      'Revoking a rule failed on our side (DynamoDB: InternalServerError); the alert shows where it stands, and a rule still pending can be revoked again. (REVOKE_ERROR)',
    );
    expect(note).not.toContain('Someone else');
  });

  it('says someone else decided first when a race was lost', () => {
    expect(revokeNote({ violationId: 'v-1', outcome: 'lost-race', violation: null })).toBe(
      'Someone else decided this rule first. (ALREADY_DECIDED)',
    );
  });
});
