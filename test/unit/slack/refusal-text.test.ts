import { RefusedError, refusalOf, refusalText } from '../../../services/kernel/refusal';
import { linkRefusedMessage } from '../../../slack/blocks/grant';
import { statusRefusedMessage } from '../../../slack/blocks/status';
import { revokeNote } from '../../../slack/listeners/decisions/revoke';
import { personText } from '../../../slack/person';

const refusal = { code: 'NOT_AUTHORISED', message: 'You are not on the list of people who may do this.' };

describe('refusalText', () => {
  describe('the one rule: a refusal ends with its stable code in parentheses', () => {
    it('keeps the service sentence unchanged and appends the code', () => {
      expect(refusalText(refusal)).toBe(
        'You are not on the list of people who may do this. (NOT_AUTHORISED)',
      );
    });

    it('gives a thrown refusal the same ending as a returned one', () => {
      const thrown = refusalOf(new RefusedError(refusal));
      expect(thrown).not.toBeNull();
      expect(refusalText(thrown!)).toBe(refusalText(refusal));
    });
  });

  describe('every Slack refusal builder ends with the code', () => {
    it('ends the /sg-status refusal and the me-link refusal with the code', () => {
      expect(statusRefusedMessage(refusal).text).toBe(
        ':no_entry_sign: You are not on the list of people who may do this. (NOT_AUTHORISED)',
      );
      expect(linkRefusedMessage(refusal).text).toBe(
        ':warning: You are not on the list of people who may do this. (NOT_AUTHORISED)',
      );
    });

    it('ends each revoke note that is not a success with a code', () => {
      const notes = [
        revokeNote({ violationId: 'v-1', outcome: 'lost-race', violation: null }),
        revokeNote({ violationId: 'v-1', outcome: 'not-found', violation: null }),
        revokeNote({ violationId: 'v-1', outcome: 'error', violation: null, error: 'boom' }),
        revokeNote({ violationId: 'v-1', outcome: 'REVOKE_RETRY', violation: null, error: 'throttled' }),
      ];
      expect(notes.map((n) => n?.match(/\(([A-Z_]+)\)$/)?.[1])).toEqual([
        'ALREADY_DECIDED',
        'NOT_FOUND',
        'REVOKE_ERROR',
        'REVOKE_RETRY',
      ]);
    });
  });
});

describe('personText', () => {
  it('shows a person by Slack mention wherever their user ID is known', () => {
    expect(personText('U0APPROVER', 'alex')).toBe('<@U0APPROVER>');
    expect(personText('W0ENTERPRISE', 'sam')).toBe('<@W0ENTERPRISE>');
  });

  it('shows the stored name, escaped, only where there is no Slack ID', () => {
    expect(personText('arn:aws:iam::1:user/ops', 'ops <admin>')).toBe('ops &lt;admin&gt;');
    expect(personText(null, 'alex')).toBe('alex');
  });
});
