import type { GrantItem } from '../../../../services/grants/items';
import { mayConfirmFrom, mayDisown, mayRequest, mayRevoke } from '../../../../services/grants/who-may';
import { config, ENGINEER } from './grant-fakes';

const deps = { config, directory: { membersOf: async () => [] } };
const grant = (over: Partial<GrantItem> = {}) =>
  ({
    grantId: 'g-abcdefghjk',
    userId: ENGINEER.id,
    userName: ENGINEER.name,
    status: 'ACTIVE',
    via: 'link',
    alias: 'bastion',
    ...over,
  }) as GrantItem;

describe('who may', () => {
  describe('mayRequest', () => {
    it('resolves the default port and duration of a target', async () => {
      expect(await mayRequest(deps, { alias: 'bastion', person: ENGINEER })).toMatchObject({
        ok: true,
        value: { alias: 'bastion', port: 22, durationSeconds: 3600 },
      });
    });

    it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])(
      'case 5: %s is answered as no such target',
      async (alias) => {
        expect(await mayRequest(deps, { alias, person: ENGINEER })).toEqual({
          ok: false,
          refusal: {
            code: 'UNKNOWN_TARGET',
            message: `There is no whitelist target called "${alias}". Targets: bastion.`,
          },
        });
      },
    );

    it('refuses a port the target does not offer and a duration past its longest', async () => {
      expect(await mayRequest(deps, { alias: 'bastion', port: 80, person: ENGINEER })).toMatchObject({
        ok: false,
        refusal: { code: 'BAD_PORT' },
      });
      expect(
        await mayRequest(deps, { alias: 'bastion', durationSeconds: 3 * 3600, person: ENGINEER }),
      ).toMatchObject({
        ok: false,
        refusal: { code: 'BAD_DURATION', message: '"bastion" allows at most 2h; ask for that or less.' },
      });
    });
  });

  describe('mayRevoke', () => {
    it('lets the owner or an approver end an active grant', async () => {
      expect(await mayRevoke(deps, grant(), ENGINEER)).toEqual({ ok: true, value: true });
      expect(await mayRevoke(deps, grant(), { id: 'U0APPROVER', name: 'alex' })).toEqual({
        ok: true,
        value: true,
      });
      expect(await mayRevoke(deps, grant(), { id: 'U0OTHER', name: 'o' })).toMatchObject({
        ok: false,
        refusal: { code: 'NOT_AUTHORISED' },
      });
      expect(await mayRevoke(deps, grant({ status: 'EXPIRED' }), ENGINEER)).toMatchObject({
        ok: false,
        refusal: { code: 'GRANT_ENDED' },
      });
    });
  });

  describe('mayDisown', () => {
    it('case 8: lets only the owner say "not me", only for a grant a link made, while it lasts', () => {
      expect(mayDisown(grant(), ENGINEER)).toEqual({ ok: true, value: true });
      expect(mayDisown(grant(), { id: 'U0APPROVER', name: 'alex' })).toMatchObject({
        ok: false,
        refusal: { code: 'NOT_AUTHORISED' },
      });
      expect(mayDisown(grant({ via: 'address' }), ENGINEER)).toMatchObject({
        ok: false,
        refusal: { code: 'NOT_FROM_LINK' },
      });
      expect(mayDisown(grant({ status: 'REVOKED' }), ENGINEER)).toMatchObject({
        ok: false,
        refusal: { code: 'GRANT_ENDED' },
      });
      expect(mayDisown(grant({ status: 'PENDING' }), ENGINEER)).toMatchObject({
        ok: false,
        refusal: { code: 'GRANT_PENDING' },
      });
    });
  });

  describe('mayConfirmFrom', () => {
    it('case 8: accepts a confirmation only from the address the page showed', () => {
      expect(mayConfirmFrom('203.0.113.5', '203.0.113.5')).toEqual({ ok: true, value: true });
      expect(mayConfirmFrom('203.0.113.5', '198.51.100.9')).toMatchObject({
        ok: false,
        refusal: {
          code: 'ADDRESS_CHANGED',
          message: expect.stringContaining(
            'The page showed 203.0.113.5, but the confirmation came from 198.51.100.9',
          ),
        },
      });
      expect(mayConfirmFrom(null, '203.0.113.5')).toMatchObject({
        ok: false,
        refusal: { code: 'ADDRESS_NOT_SHOWN' },
      });
    });

    it('does not echo a long made-up address whole', () => {
      const ruling = mayConfirmFrom('x'.repeat(500), '203.0.113.5');
      expect(ruling.ok).toBe(false);
      expect(JSON.stringify(ruling).length).toBeLessThan(400);
    });
  });
});
