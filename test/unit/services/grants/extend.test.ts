import { extendGrant } from '../../../../services/grants/extend';
import type { GrantItem } from '../../../../services/grants/items';
import { requestGrant } from '../../../../services/grants/request';
import { RefusedError } from '../../../../services/kernel/refusal';
import { ENGINEER, setup } from './grant-fakes';

describe('extendGrant', () => {
  it('caps an Extend-button extension at the longest duration, and refuses once it is reached', async () => {
    const { deps } = setup();
    const { grant } = (await requestGrant(deps, {
      alias: 'bastion',
      address: '198.51.100.8',
      durationSeconds: 5400,
      person: ENGINEER,
      via: 'address',
    })) as { grant: GrantItem };

    const capped = await extendGrant(deps, grant.grantId, ENGINEER, null, { capped: true });
    expect(capped.expiresAt).toBe('2026-11-23T12:00:00.000Z');
    await expect(extendGrant(deps, grant.grantId, ENGINEER, null, { capped: true })).rejects.toMatchObject({
      code: 'BAD_DURATION',
    });
  });

  it("refuses someone else's grant, and audits the refusal on the grant", async () => {
    const { deps, store } = setup();
    const { grant } = (await requestGrant(deps, {
      alias: 'bastion',
      address: '198.51.100.12',
      person: ENGINEER,
      via: 'address',
    })) as { grant: GrantItem };

    const other = { id: 'U0OTHER', name: 'o' };
    await expect(extendGrant(deps, grant.grantId, other, 600)).rejects.toBeInstanceOf(RefusedError);
    await expect(extendGrant(deps, grant.grantId, other, 600)).rejects.toMatchObject({
      code: 'NOT_AUTHORISED',
      message: `Only erin, who asked for ${grant.grantId}, can extend it.`,
    });
    const refusals = (await store.auditFor(grant.grantId)).filter((a) => a.result === 'refused');
    expect(refusals).toHaveLength(2);
    expect(refusals[0]).toMatchObject({ action: 'extend', actorId: 'U0OTHER' });
  });
});
