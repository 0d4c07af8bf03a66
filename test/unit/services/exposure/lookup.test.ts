import { ExposureLookup, lookUpExposure } from '../../../../services/exposure/lookup';
import type { NetworkInterfaceFacts, NetworkReader } from '../../../../services/exposure/ports';
import { AwsCallError } from '../../../../services/shared/errors';
import { albEni, instanceEni, lb, tables } from './fixtures';

const TARGET = { account: '123456789012', region: 'eu-west-1' };

/** An in-memory network that records each read and can fail one of them. */
function network(
  interfaces: NetworkInterfaceFacts[],
  fail: Partial<Record<keyof NetworkReader, string>> = {},
) {
  const calls: string[] = [];
  const attempt = <T>(name: keyof NetworkReader, value: T): Promise<T> => {
    calls.push(name);
    const code = fail[name];
    return code
      ? Promise.reject(new AwsCallError(`${name} failed: ${code}`, { awsCode: code }))
      : Promise.resolve(value);
  };
  const reader: NetworkReader = {
    interfacesUsingGroup: () => attempt('interfacesUsingGroup', interfaces),
    routeTables: () => attempt('routeTables', tables()),
    loadBalancers: (_t, names) =>
      attempt(
        'loadBalancers',
        [lb('web', '50dc', 'internet-facing')].filter((l) => names.includes(l.name)),
      ),
    instanceNames: (_t, ids) =>
      attempt('instanceNames', Object.fromEntries(ids.map((id) => [id, `name-of-${id}`]))),
  };
  return { reader, calls };
}

describe('exposure lookup', () => {
  it('makes one call for a group nothing uses', async () => {
    const { reader, calls } = network([]);
    expect((await lookUpExposure(reader, TARGET, 'sg-1')).exposure).toBe('unattached');
    expect(calls).toEqual(['interfacesUsingGroup']);
  });

  it('reads interfaces, route tables and instance names: three calls', async () => {
    const { reader, calls } = network([
      instanceEni('i-0abc', { publicIp: '3.248.1.9' }),
      instanceEni('i-0def'),
    ]);
    const exposure = await lookUpExposure(reader, TARGET, 'sg-1');
    expect(calls).toEqual(['interfacesUsingGroup', 'routeTables', 'instanceNames']);
    expect(exposure.reason).toBe('reachable from the internet through i-0abc (name-of-i-0abc, 3.248.1.9)');
  });

  it('spends the third call on load balancers when their scheme decides, not on names', async () => {
    const { reader, calls } = network([albEni('web', '50dc'), instanceEni('i-0abc')]);
    const exposure = await lookUpExposure(reader, TARGET, 'sg-1');
    expect(calls).toEqual(['interfacesUsingGroup', 'routeTables', 'loadBalancers']);
    expect(exposure.exposure).toBe('internet');
    expect(exposure.attachments.find((a) => a.type === 'instance')!.name).toBeNull();
  });

  it('gives unknown with the failed call and its code (never AWS’s message) when a read fails', async () => {
    const { reader } = network([instanceEni('i-0abc', { publicIp: '3.248.1.9' })], {
      routeTables: 'UnauthorizedOperation',
    });
    const exposure = await lookUpExposure(reader, TARGET, 'sg-1');
    expect(exposure.exposure).toBe('unknown');
    expect(exposure.failures).toEqual(['DescribeRouteTables failed (UnauthorizedOperation)']);
    const none = await lookUpExposure(
      network([], { interfacesUsingGroup: 'RequestLimitExceeded' }).reader,
      TARGET,
      'sg-1',
    );
    expect(none).toMatchObject({
      exposure: 'unknown',
      failures: ['DescribeNetworkInterfaces failed (RequestLimitExceeded)'],
    });
  });

  it('names a failed instance-name read but keeps the class', async () => {
    const { reader } = network([instanceEni('i-0abc', { publicIp: '3.248.1.9' })], {
      instanceNames: 'UnauthorizedOperation',
    });
    const exposure = await lookUpExposure(reader, TARGET, 'sg-1');
    expect(exposure).toMatchObject({
      exposure: 'internet',
      failures: ['DescribeTags failed (UnauthorizedOperation)'],
    });
  });

  it('looks each group up once per lookup object, per account and region', async () => {
    const { reader, calls } = network([instanceEni('i-0abc')]);
    const lookup = new ExposureLookup({ reader });
    const [a, b] = await Promise.all([lookup.exposureOf(TARGET, 'sg-1'), lookup.exposureOf(TARGET, 'sg-1')]);
    expect(a).toBe(b);
    expect(calls.filter((c) => c === 'interfacesUsingGroup')).toHaveLength(1);
    await lookup.exposureOf({ ...TARGET, region: 'us-east-1' }, 'sg-1');
    await lookup.exposureOf(TARGET, 'sg-2');
    expect(calls.filter((c) => c === 'interfacesUsingGroup')).toHaveLength(3);
    // A new invocation gets a new lookup: nothing carried over.
    await new ExposureLookup({ reader }).exposureOf(TARGET, 'sg-1');
    expect(calls.filter((c) => c === 'interfacesUsingGroup')).toHaveLength(4);
  });
});
