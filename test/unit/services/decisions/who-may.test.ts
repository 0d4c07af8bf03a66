import { validateConfig } from '../../../../services/config/config';
import {
  checkJustification,
  checkRevoke,
  isOwnChange,
  keepChoices,
  keepChoiceValue,
  keepDurationFor,
  PERMANENT_CHOICE,
} from '../../../../services/decisions/who-may';
import { ALICE, BOB, PRINCIPAL, seed, setup } from './fixtures';

function config(decisions: Record<string, unknown> = {}) {
  return validateConfig({ slack: { alertChannel: 'C0ALERTS' }, decisions }, 'test.yml');
}

describe('decisions: who may', () => {
  describe('keepDurationFor (case 5: a submitted name reaches only own keys)', () => {
    it('answers the offered durations and permanent where allowed', () => {
      const c = config({ keepDurations: ['1h', '1d'], permanentKeepFor: ['low'] });
      expect(keepDurationFor(c, '3600')).toBe(3600);
      expect(keepDurationFor(c, keepChoiceValue(86400))).toBe(86400);
      expect(keepDurationFor(c, PERMANENT_CHOICE)).toBeNull();
      expect(keepDurationFor(c, '7200')).toBeUndefined();
      expect(keepDurationFor(config({ permanentKeepFor: [] }), PERMANENT_CHOICE)).toBeUndefined();
      expect(keepDurationFor(c, 3600)).toBeUndefined();
      expect(keepDurationFor(c, undefined)).toBeUndefined();
    });

    it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'])(
      'names nothing for %s',
      (name) => {
        expect(keepDurationFor(config(), name)).toBeUndefined();
      },
    );
  });

  it('keepChoices offers permanent only when every rule may be kept permanently', () => {
    const env = setup();
    expect(keepChoices(env.deps, [{ severity: 'low' }])).toEqual([3600, 86400, 604800, null]);
    expect(keepChoices(env.deps, [{ severity: 'low' }, { severity: 'high' }])).toEqual([3600, 86400, 604800]);
    expect(keepChoices(env.deps, [])).toEqual([3600, 86400, 604800]);
  });

  it('isOwnChange maps the change’s principal to its Slack user, wildcards included', async () => {
    const env = setup({ principalToSlack: { 'arn:aws:sts::*:assumed-role/Admin/*': BOB.id } });
    const v = await seed(env);
    expect(isOwnChange(env.deps, v, BOB.id)).toBe(true);
    expect(isOwnChange(env.deps, v, ALICE.id)).toBe(false);
    expect(isOwnChange(setup({ principalToSlack: { [PRINCIPAL]: ALICE.id } }).deps, v, BOB.id)).toBe(false);
  });

  it('checkRevoke lets revokers through and refuses anyone else', async () => {
    const env = setup({ revokers: { users: [ALICE.id] } });
    const v = await seed(env);
    expect(await checkRevoke(env.deps, ALICE, v)).toBeNull();
    expect(await checkRevoke(env.deps, BOB, v)).toMatchObject({ code: 'NOT_AUTHORISED' });
  });

  it('checkJustification wants some text, and not too much', () => {
    expect(checkJustification('')).toMatchObject({ code: 'BAD_INPUT' });
    expect(checkJustification('x'.repeat(2001))).toMatchObject({ code: 'BAD_INPUT' });
    expect(checkJustification('load test')).toBeNull();
  });
});
