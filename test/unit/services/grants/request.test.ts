import { expireGrant } from '../../../../services/grants/expiry';
import { requestGrant } from '../../../../services/grants/request';
import { AwsCallError } from '../../../../services/shared/errors';
import { ENGINEER, grantsIn, notifierOf, setup } from './grant-fakes';

describe('requestGrant', () => {
  it('leaves a grant PENDING (for the sweeper) when EC2 did not answer and the rule cannot be looked up', async () => {
    const { deps, store, ec2, told, setNow } = setup();
    ec2.authorizeFails = new AwsCallError('AuthorizeSecurityGroupIngress failed: TimeoutError', {
      awsCode: 'TimeoutError',
    });
    ec2.addDespiteFailure = true;
    ec2.describeFails = true;

    await expect(
      requestGrant(deps, { alias: 'bastion', address: '198.51.100.5', person: ENGINEER, via: 'address' }),
    ).rejects.toMatchObject({ code: 'GRANT_UNCONFIRMED' });

    const [pending] = grantsIn(store);
    expect(pending).toMatchObject({
      status: 'PENDING',
      dueKind: 'GRANT_EXPIRY',
      dueAt: '2026-11-23T10:05:00.000Z',
    });
    expect(ec2.rules.size).toBe(1);

    ec2.describeFails = false;
    setNow(new Date('2026-11-23T10:06:00Z'));
    await expireGrant(deps, notifierOf(told), pending!.grantId, new Date('2026-11-23T10:06:00Z'));

    expect(ec2.rules.size).toBe(0);
    expect(grantsIn(store)[0]).toMatchObject({ status: 'FAILED', failureCode: 'ABANDONED' });
    expect(told).toEqual([`abandoned ${pending!.grantId} 1`]);
  });

  it('adopts the rule it finds by its tag when EC2 added it but the answer was lost', async () => {
    const { deps, store, ec2 } = setup();
    ec2.authorizeFails = new AwsCallError('AuthorizeSecurityGroupIngress failed: TimeoutError', {
      awsCode: 'TimeoutError',
    });
    ec2.addDespiteFailure = true;

    const outcome = await requestGrant(deps, {
      alias: 'bastion',
      address: '198.51.100.4',
      person: ENGINEER,
      via: 'address',
    });

    const [ruleId] = [...ec2.rules.keys()];
    expect(outcome).toMatchObject({ kind: 'granted', grant: { status: 'ACTIVE', ruleId } });
    expect(grantsIn(store)).toHaveLength(1);
  });

  it('marks the request FAILED when EC2 refused and nothing was added', async () => {
    const { deps, store, ec2 } = setup();
    const cause = Object.assign(new Error('bad'), { $metadata: { httpStatusCode: 400 } });
    ec2.authorizeFails = new AwsCallError('AuthorizeSecurityGroupIngress failed: InvalidParameterValue', {
      awsCode: 'InvalidParameterValue',
      cause,
    });
    await expect(
      requestGrant(deps, { alias: 'bastion', address: '198.51.100.6', person: ENGINEER, via: 'address' }),
    ).rejects.toMatchObject({
      code: 'AWS_REFUSED',
      message: expect.stringContaining('InvalidParameterValue'),
    });
    expect(grantsIn(store)[0]).toMatchObject({ status: 'FAILED', failureCode: 'AWS_REFUSED' });
  });

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])(
    'case 5: refuses the target %s as unknown and audits it, whatever Object.prototype holds',
    async (alias) => {
      const { deps, store } = setup();
      await expect(
        requestGrant(deps, { alias, address: '198.51.100.3', person: ENGINEER, via: 'address' }),
      ).rejects.toMatchObject({
        code: 'UNKNOWN_TARGET',
        message: `There is no whitelist target called "${alias}". Targets: bastion.`,
      });
      expect(grantsIn(store)).toEqual([]);
      expect(await store.auditFor(`target:${alias}`)).toEqual([
        expect.objectContaining({ action: 'request', result: 'refused', actorId: ENGINEER.id }),
      ]);
    },
  );
});
