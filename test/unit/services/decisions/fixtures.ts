import { validateConfig } from '../../../../services/config/config';
import type { DecisionDeps } from '../../../../services/decisions/deps';
import { keys } from '../../../../services/kernel/state';
import { AwsCallError } from '../../../../services/shared/errors';
import { silentLogger } from '../../../../services/shared/logger';
import type { Direction, RuleFacts } from '../../../../services/shared/model';
import type { AwsTarget, GroupInfo, MessageRef } from '../../../../services/shared/ports';
import type { AlertItem, ViolationItem } from '../../../../services/violations/items';
import type { AlertNotifier, AlertView, RevokeFailure } from '../../../../services/violations/ports';
import { revokeFailureText } from '../../../../slack/blocks/alert';
import { MemoryStateStore } from '../../../support/memory-store';

/** Shared arrange steps for the decision service's unit tests: an in-memory store, EC2 and notifier. */

export const T0 = new Date('2026-11-23T10:00:00.000Z');
export const MESSAGE: MessageRef = { channel: 'C0ALERTS', ts: '1700000000.000100' };
export const ALICE = { id: 'U0ALICE', name: 'alice' };
export const BOB = { id: 'U0BOB', name: 'bob' };
export const PRINCIPAL = 'arn:aws:sts::123456789012:assumed-role/Admin/bob@example.com';

/** EC2 as a map of live rules; records revokes and can refuse the next N of them. */
export class FakeEc2 {
  rules = new Map<string, RuleFacts>();
  revokes: string[][] = [];
  refuse = 0;
  refuseWith = 'UnauthorizedOperation';
  tags: Record<string, string> = {};

  async describeRules(_t: AwsTarget, ids: readonly string[]): Promise<RuleFacts[]> {
    return ids.flatMap((id) => (this.rules.has(id) ? [this.rules.get(id)!] : []));
  }
  async describeGroupRules(_t: AwsTarget, groupId: string): Promise<RuleFacts[]> {
    return [...this.rules.values()].filter((r) => r.groupId === groupId);
  }
  async describeGroup(_t: AwsTarget, groupId: string): Promise<GroupInfo | null> {
    return { groupId, name: 'web', vpcId: 'vpc-1', tags: this.tags };
  }
  async revokeRules(_t: AwsTarget, _g: string, _d: Direction, ids: readonly string[]) {
    this.revokes.push([...ids]);
    if (this.refuse > 0) {
      this.refuse--;
      throw new AwsCallError(`RevokeSecurityGroupIngress failed: ${this.refuseWith}`, {
        awsCode: this.refuseWith,
        requestId: 'req-refused',
      });
    }
    for (const id of ids) this.rules.delete(id);
    return { requestId: `req-${this.revokes.length}` };
  }
}

export class FakeNotifier implements AlertNotifier {
  posts: AlertView[] = [];
  updates: AlertView[] = [];
  notices: { channel: string; text: string; threadTs?: string }[] = [];
  async postAlert(channel: string, view: AlertView) {
    this.posts.push(view);
    return { channel, ts: `17000000${this.posts.length}.000100` };
  }
  async updateAlert(_ref: MessageRef, view: AlertView) {
    this.updates.push(view);
  }
  async postRevokeFailure(channel: string, failure: RevokeFailure, threadTs?: string) {
    this.notices.push({ channel, text: revokeFailureText(failure), ...(threadTs ? { threadTs } : {}) });
  }
}

export function sshRule(ruleId: string | null = 'sgr-0ssh'): RuleFacts {
  return {
    groupId: 'sg-0123456789abcdef0',
    ruleId,
    direction: 'ingress',
    protocol: 'tcp',
    fromPort: 22,
    toPort: 22,
    source: '0.0.0.0/0',
    sourceKind: 'ipv4',
    description: null,
  };
}

export function setup(decisions: Record<string, unknown> = {}, policy: Record<string, unknown> = {}) {
  const store = new MemoryStateStore();
  const ec2 = new FakeEc2();
  const notifier = new FakeNotifier();
  let now = T0;
  const groups: Record<string, string[]> = { S0APPROVERS: [ALICE.id] };
  const deps: DecisionDeps = {
    store,
    ec2,
    notifier,
    config: validateConfig({ slack: { alertChannel: 'C0ALERTS' }, decisions, policy }, 'test.yml'),
    clock: () => now,
    logger: silentLogger,
    directory: { membersOf: async (g) => groups[g] ?? [] },
  };
  return {
    store,
    ec2,
    notifier,
    deps,
    setNow: (d: Date) => {
      now = d;
    },
  };
}

export async function seed(
  env: ReturnType<typeof setup>,
  options: {
    id?: string;
    alertId?: string;
    rule?: RuleFacts;
    severity?: ViolationItem['severity'];
    dryRun?: boolean;
  } = {},
): Promise<ViolationItem> {
  const rule = options.rule ?? sshRule();
  const alertId = options.alertId ?? 'evt-1';
  const violationId = options.id ?? 'v-1';
  if (rule.ruleId) env.ec2.rules.set(rule.ruleId, rule);
  const actor = {
    arn: PRINCIPAL,
    type: 'AssumedRole',
    roleArn: null,
    invokedBy: null,
    sourceIp: '198.51.100.7',
    userAgent: 'cli',
  };
  const existing = await env.store.get<AlertItem>(keys.alert(alertId));
  const alert: AlertItem = {
    ...keys.alert(alertId),
    type: 'alert',
    status: 'POSTED',
    version: 3,
    alertId,
    eventId: alertId,
    eventName: 'AuthorizeSecurityGroupIngress',
    eventTime: T0.toISOString(),
    region: 'us-east-1',
    account: '123456789012',
    groupId: rule.groupId,
    groupName: 'web',
    actor,
    violationIds: [...(existing?.violationIds ?? []), violationId],
    notifyAttempts: 1,
    channel: MESSAGE.channel,
    ts: MESSAGE.ts,
    createdAt: T0.toISOString(),
  };
  env.store.items.set(`${alert.pk}|${alert.sk}`, alert as never);
  const v: ViolationItem = {
    ...keys.violation(violationId),
    type: 'violation',
    status: 'PENDING',
    version: 1,
    violationId,
    alertId,
    eventId: alertId,
    region: 'us-east-1',
    account: '123456789012',
    groupId: rule.groupId,
    groupName: 'web',
    rule,
    severity: options.severity ?? 'high',
    reasons: ['admin port 22 (SSH) open: 0.0.0.0/0 is the whole internet'],
    action: 'alert',
    dryRun: options.dryRun ?? false,
    actor,
    eventTime: T0.toISOString(),
    createdAt: T0.toISOString(),
    deadline: new Date(T0.getTime() + 900_000).toISOString(),
    revokeAttempts: 0,
    dueKind: 'DEADLINE',
    dueAt: new Date(T0.getTime() + 900_000).toISOString(),
  };
  await env.store.createAll([v as never], []);
  return v;
}

export async function status(env: ReturnType<typeof setup>, id = 'v-1') {
  return (await env.store.get<ViolationItem>(keys.violation(id)))!;
}
