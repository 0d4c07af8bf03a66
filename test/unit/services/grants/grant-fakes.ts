import { parseConfig } from '../../../../services/config/config';
import type { GrantDeps, GrantNotifier } from '../../../../services/grants/deps';
import type { GrantItem } from '../../../../services/grants/items';
import { AwsCallError } from '../../../../services/shared/errors';
import { silentLogger } from '../../../../services/shared/logger';
import type { RuleFacts } from '../../../../services/shared/model';
import type { AwsTarget, IngressGrant } from '../../../../services/shared/ports';
import { MemoryStateStore } from '../../../support/memory-store';

// The grant service's unit tests share these: an EC2 port in memory, a config, and a notifier that
// records what it was asked to tell.

export const GROUP = 'sg-0123456789abcdef0';
export const ENGINEER = { id: 'U0ENGINEER', name: 'erin' };

/** An EC2 port in memory: rules by ID, with scripted failures. */
export class FakeEc2 {
  rules = new Map<string, RuleFacts & { tags: Record<string, string> }>();
  authorizeFails: AwsCallError | null = null;
  /** Add the rule even though the call fails (a timeout after EC2 acted). */
  addDespiteFailure = false;
  describeFails = false;
  revokeFails: Error | null = null;
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
    if (this.revokeFails) throw this.revokeFails;
    for (const id of ids) this.rules.delete(id);
    return { requestId: 'req-2' };
  }
}

export const config = parseConfig(
  `slack: { alertChannel: C0TEST }
decisions:
  approvers: { users: [U0APPROVER] }
whitelist:
  targets:
    bastion: { groupId: ${GROUP}, region: eu-west-1, ports: [22], defaultDuration: 1h, maxDuration: 2h }
`,
  'test.yml',
);

/** Grant deps over an in-memory store and EC2, on a clock the test moves. */
export function setup(now = new Date('2026-11-23T10:00:00Z')) {
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

export function grantsIn(store: MemoryStateStore): GrantItem[] {
  return [...store.items.values()].filter((i) => i.type === 'grant') as unknown as GrantItem[];
}

/** A notifier that writes one line per notice into `told`. */
export function notifierOf(told: string[]): GrantNotifier {
  return {
    expiring: async (g) => void told.push(`expiring ${g.grantId}`),
    ended: async (g) => void told.push(`ended ${g.grantId}`),
    revokeFailed: async (g) => void told.push(`revoke-failed ${g.grantId}`),
    abandoned: async (g, n) => void told.push(`abandoned ${g.grantId} ${n}`),
    linkUsed: async (l, r) =>
      void told.push(`link-used ${l.grantId} ${'outcome' in r ? r.outcome.kind : r.refusal.code}`),
    disowned: async (g, by) => void told.push(`disowned ${g.grantId} by ${by.id}`),
  };
}
