import { disownGrant, expireGrant, revokeGrant } from '../../../../services/grants/expiry';
import type { GrantItem } from '../../../../services/grants/items';
import { requestGrant } from '../../../../services/grants/request';
import { RefusedError } from '../../../../services/kernel/refusal';
import { ENGINEER, grantsIn, notifierOf, setup } from './grant-fakes';

async function granted(deps: ReturnType<typeof setup>['deps'], address: string, via: GrantItem['via']) {
  return (
    (await requestGrant(deps, { alias: 'bastion', address, person: ENGINEER, via })) as { grant: GrantItem }
  ).grant;
}

describe('revokeGrant', () => {
  it("refuses to revoke a grant that has ended, or someone else's", async () => {
    const { deps } = setup();
    const grant = await granted(deps, '198.51.100.7', 'address');
    await revokeGrant(deps, grant.grantId, ENGINEER);
    await expect(revokeGrant(deps, grant.grantId, ENGINEER)).rejects.toBeInstanceOf(RefusedError);
    await expect(revokeGrant(deps, grant.grantId, { id: 'U0OTHER', name: 'o' })).rejects.toMatchObject({
      code: 'NOT_AUTHORISED',
    });
    await expect(revokeGrant(deps, grant.grantId, { id: 'U0OTHER', name: 'o' })).rejects.toBeInstanceOf(
      RefusedError,
    );
  });

  it('audits the removal with the state the grant was in before the claim', async () => {
    const { deps, store } = setup();
    const grant = await granted(deps, '198.51.100.13', 'address');
    await revokeGrant(deps, grant.grantId, ENGINEER);
    const last = (await store.auditFor(grant.grantId)).at(-1);
    expect(last).toMatchObject({
      action: 'revoke',
      fromState: 'ACTIVE',
      toState: 'REVOKED',
      actorId: ENGINEER.id,
    });
  });
});

describe('expireGrant', () => {
  it('does nothing for a stale due entry (the grant was extended after the sweep read it)', async () => {
    const { deps, store, ec2, told } = setup();
    const grant = await granted(deps, '198.51.100.9', 'address');
    await expireGrant(deps, notifierOf(told), grant.grantId, new Date('2026-11-23T10:30:00Z'));
    expect(grantsIn(store)[0]).toMatchObject({ status: 'ACTIVE' });
    expect(ec2.rules.size).toBe(1);
    expect(told).toEqual([]);
  });

  it('retries a failed removal with backoff and tells the owner once', async () => {
    const { deps, store, ec2, told, setNow } = setup();
    // Five minutes: shorter than the warning, so the expiry is the first due entry.
    const { grant } = (await requestGrant(deps, {
      alias: 'bastion',
      address: '198.51.100.14',
      durationSeconds: 300,
      person: ENGINEER,
      via: 'address',
    })) as { grant: GrantItem };
    ec2.revokeFails = new Error('Throttling');
    const at = new Date('2026-11-23T10:05:00Z');
    setNow(at);
    await expireGrant(deps, notifierOf(told), grant.grantId, at);
    expect(grantsIn(store)[0]).toMatchObject({
      status: 'REVOKE_FAILED',
      revokeAttempts: 1,
      dueAt: '2026-11-23T10:06:00.000Z',
    });
    ec2.revokeFails = null;
    const later = new Date('2026-11-23T10:07:00Z');
    setNow(later);
    await expireGrant(deps, notifierOf(told), grant.grantId, later);
    expect(grantsIn(store)[0]).toMatchObject({ status: 'EXPIRED' });
    expect(told).toEqual([`revoke-failed ${grant.grantId}`, `ended ${grant.grantId}`]);
  });
});

describe('disownGrant (Not me — revoke)', () => {
  it('case 8: the owner revokes a grant their link made; audited as not me; the alert channel is told', async () => {
    const { deps, store, ec2, told } = setup();
    const grant = await granted(deps, '198.51.100.15', 'link');
    const result = await disownGrant(deps, notifierOf(told), grant.grantId, ENGINEER);
    expect(result).toMatchObject({ outcome: 'removed', grant: { status: 'REVOKED' } });
    expect(ec2.rules.size).toBe(0);
    expect(told).toEqual([`disowned ${grant.grantId} by ${ENGINEER.id}`]);
    expect((await store.auditFor(grant.grantId)).at(-1)).toMatchObject({
      action: 'revoke',
      actorId: ENGINEER.id,
      toState: 'REVOKED',
      details: expect.objectContaining({ reason: expect.stringContaining('not me') }),
    });
  });

  it('case 8: only the owner may press it, only for a link grant; each refusal is audited', async () => {
    const { deps, store, told } = setup();
    const viaLink = await granted(deps, '198.51.100.16', 'link');
    const typed = await granted(deps, '198.51.100.17', 'address');
    await expect(
      disownGrant(deps, notifierOf(told), viaLink.grantId, { id: 'U0APPROVER', name: 'alex' }),
    ).rejects.toMatchObject({ code: 'NOT_AUTHORISED' });
    await expect(disownGrant(deps, notifierOf(told), typed.grantId, ENGINEER)).rejects.toMatchObject({
      code: 'NOT_FROM_LINK',
    });
    expect(grantsIn(store).map((g) => g.status)).toEqual(['ACTIVE', 'ACTIVE']);
    expect(told).toEqual([]);
    const refusals = [
      ...(await store.auditFor(viaLink.grantId)),
      ...(await store.auditFor(typed.grantId)),
    ].filter((a) => a.result === 'refused');
    expect(refusals.map((a) => [a.action, a.actorId])).toEqual([
      ['not-me', 'U0APPROVER'],
      ['not-me', ENGINEER.id],
    ]);
  });
});
