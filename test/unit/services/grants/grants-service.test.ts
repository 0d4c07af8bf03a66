import { parseConfig } from '../../../../services/config/config';
import {
  expireGrant,
  extendGrant,
  type GrantDeps,
  type GrantNotifier,
  GrantRefusedError,
  requestGrant,
  revokeGrant,
} from '../../../../services/grants/grants';
import type { GrantItem } from '../../../../services/grants/items';
import { AwsCallError, NotAuthorisedError } from '../../../../services/shared/errors';
import { silentLogger } from '../../../../services/shared/logger';
import type { RuleFacts } from '../../../../services/shared/model';
import type { AwsTarget, IngressGrant } from '../../../../services/shared/ports';
import { MemoryStateStore } from '../../../support/memory-store';

const GROUP = 'sg-0123456789abcdef0';
const ENGINEER = { userId: 'U0ENGINEER', userName: 'erin' };

/** An EC2 port in memory: rules by ID, with scripted failures. */
class FakeEc2 {
  rules = new Map<string, RuleFacts & { tags: Record<string, string> }>();
  authorizeFails: AwsCallError | null = null;
  /** Add the rule even though the call fails (a timeout after EC2 acted). */
  addDespiteFailure = false;
  describeFails = false;
  private next = 1;

  async authorizeIngress(_t: AwsTarget, g: IngressGrant) {
    const add = () => {
      const ruleId = `sgr-${String(this.next++).padStart(17, '0')}`;
      this.rules.set(ruleId, {
        groupId: g.groupId,
        ruleId,
        direction: 'ingress',
        protocol: g.protocol,
        fromPort: g.port,
        toPort: g.port,
        source: g.cidr,
        sourceKind: g.cidr.includes(':') ? 'ipv6' : 'ipv4',
        description: g.description,
        tags: g.tags,
      });
      return ruleId;
    };
    if (this.authorizeFails) {
      if (this.addDespiteFailure) add();
      throw this.authorizeFails;
    }
    return { ruleId: add(), requestId: 'req-1' };
  }
  async describeRulesTagged(_t: AwsTarget, key: string, value: string) {
    if (this.describeFails)
      throw new AwsCallError('DescribeSecurityGroupRules failed', { awsCode: 'Unknown' });
    return [...this.rules.values()].filter((r) => r.tags[key] === value);
  }
  async relabelRule() {}
  async describeRules(_t: AwsTarget, ids: readonly string[]) {
    return ids.flatMap((id) => (this.rules.has(id) ? [this.rules.get(id)!] : []));
  }
  async describeGroupRules() {
    return [...this.rules.values()];
  }
  async describeGroup() {
    return { groupId: GROUP, name: 'bastion', vpcId: null, tags: {} };
  }
  async revokeRules(_t: AwsTarget, _g: string, _d: string, ids: readonly string[]) {
    for (const id of ids) this.rules.delete(id);
    return { requestId: 'req-2' };
  }
}

const config = parseConfig(
  `slack: { alertChannel: C0TEST }
decisions:
  approvers: { users: [U0APPROVER] }
whitelist:
  targets:
    bastion: { groupId: ${GROUP}, region: eu-west-1, ports: [22], defaultDuration: 1h, maxDuration: 2h }
`,
  'test.yml',
);

function setup(now = new Date('2026-11-23T10:00:00Z')) {
  const store = new MemoryStateStore();
  const ec2 = new FakeEc2();
  let clock = now;
  const deps: GrantDeps = {
    config,
    store,
    ec2: ec2 as unknown as GrantDeps['ec2'],
    directory: { membersOf: async () => [] },
    clock: () => clock,
    logger: silentLogger,
  };
  const told: string[] = [];

  return { deps, store, ec2, told, setNow: (d: Date) => (clock = d) };
}

function grantsIn(store: MemoryStateStore): GrantItem[] {
  return [...store.items.values()].filter((i) => i.type === 'grant') as unknown as GrantItem[];
}

describe('grant service', () => {
  it('leaves a grant PENDING (for the sweeper) when EC2 did not answer and the rule cannot be looked up', async () => {
    const { deps, store, ec2, told, setNow } = setup();
    ec2.authorizeFails = new AwsCallError('AuthorizeSecurityGroupIngress failed: TimeoutError', {
      awsCode: 'TimeoutError',
    });
    ec2.addDespiteFailure = true;
    ec2.describeFails = true;

    await expect(
      requestGrant(deps, { alias: 'bastion', address: '198.51.100.5', requester: ENGINEER, via: 'address' }),
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

  it('marks the request FAILED when EC2 refused and nothing was added', async () => {
    const { deps, store, ec2 } = setup();
    const cause = Object.assign(new Error('bad'), { $metadata: { httpStatusCode: 400 } });
    ec2.authorizeFails = new AwsCallError('AuthorizeSecurityGroupIngress failed: InvalidParameterValue', {
      awsCode: 'InvalidParameterValue',
      cause,
    });
    await expect(
      requestGrant(deps, { alias: 'bastion', address: '198.51.100.6', requester: ENGINEER, via: 'address' }),
    ).rejects.toMatchObject({
      code: 'AWS_REFUSED',
      message: expect.stringContaining('InvalidParameterValue'),
    });
    expect(grantsIn(store)[0]).toMatchObject({ status: 'FAILED', failureCode: 'AWS_REFUSED' });
  });

  it("refuses to revoke a grant that has ended, or someone else's", async () => {
    const { deps } = setup();
    const { grant } = (await requestGrant(deps, {
      alias: 'bastion',
      address: '198.51.100.7',
      requester: ENGINEER,
      via: 'address',
    })) as { grant: GrantItem };
    await revokeGrant(deps, grant.grantId, ENGINEER);
    await expect(revokeGrant(deps, grant.grantId, ENGINEER)).rejects.toBeInstanceOf(GrantRefusedError);
    await expect(
      revokeGrant(deps, grant.grantId, { userId: 'U0OTHER', userName: 'o' }),
    ).rejects.toBeInstanceOf(NotAuthorisedError);
  });

  it('caps an Extend-button extension at the longest duration, and refuses once it is reached', async () => {
    const { deps } = setup();
    const { grant } = (await requestGrant(deps, {
      alias: 'bastion',
      address: '198.51.100.8',
      durationSeconds: 5400,
      requester: ENGINEER,
      via: 'address',
    })) as { grant: GrantItem };

    const capped = await extendGrant(deps, grant.grantId, ENGINEER, null, { capped: true });
    expect(capped.expiresAt).toBe('2026-11-23T12:00:00.000Z');
    await expect(extendGrant(deps, grant.grantId, ENGINEER, null, { capped: true })).rejects.toMatchObject({
      code: 'BAD_DURATION',
    });
  });

  it('does nothing for a stale due entry (the grant was extended after the sweep read it)', async () => {
    const { deps, store, ec2, told } = setup();
    const { grant } = (await requestGrant(deps, {
      alias: 'bastion',
      address: '198.51.100.9',
      requester: ENGINEER,
      via: 'address',
    })) as { grant: GrantItem };
    await expireGrant(deps, notifierOf(told), grant.grantId, new Date('2026-11-23T10:30:00Z'));
    expect(grantsIn(store)[0]).toMatchObject({ status: 'ACTIVE' });
    expect(ec2.rules.size).toBe(1);
    expect(told).toEqual([]);
  });
});

function notifierOf(told: string[]): GrantNotifier {
  return {
    expiring: async (g) => void told.push(`expiring ${g.grantId}`),
    ended: async (g) => void told.push(`ended ${g.grantId}`),
    revokeFailed: async (g) => void told.push(`revoke-failed ${g.grantId}`),
    abandoned: async (g, n) => void told.push(`abandoned ${g.grantId} ${n}`),
  };
}
